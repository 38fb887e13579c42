"""What period-end invoicing reads across tenants: each (tenant, closed period) with metered usage
and no invoice yet.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from meridian.core import migrations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ROLE = "meridian_billing_app"

STATEMENTS = (
    # SECURITY DEFINER as the tables' owner, like invoices_due: the service's role stays bound by
    # the tenant policies and needs no BYPASSRLS to find whom to invoice.
    """CREATE FUNCTION usage_uninvoiced(before date, max_rows integer)
        RETURNS TABLE (tenant_id uuid, period date)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
        AS $$ SELECT u.tenant_id, u.period FROM usage u
              WHERE u.period < before AND NOT EXISTS (
                  SELECT 1 FROM invoices i WHERE i.tenant_id = u.tenant_id AND i.period = u.period)
              GROUP BY u.tenant_id, u.period HAVING sum(u.quantity) > 0
              ORDER BY u.period, u.tenant_id LIMIT max_rows $$""",
    "REVOKE ALL ON FUNCTION usage_uninvoiced(date, integer) FROM PUBLIC",
    f"GRANT EXECUTE ON FUNCTION usage_uninvoiced(date, integer) TO {ROLE}",
)


def upgrade() -> None:
    migrations.execute_all(STATEMENTS)


downgrade = migrations.forward_only
