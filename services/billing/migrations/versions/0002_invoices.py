"""Invoices per tenant and period with their lines (row-level security), and their Stripe state.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from meridian.core import migrations

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ROLE = "meridian_billing_app"
TENANT = "tenant_id = nullif(current_setting('meridian.tenant_id', true), '')::uuid"

STATEMENTS = (
    # One invoice per tenant and period: UNIQUE is what makes generation idempotent.
    """CREATE TABLE invoices (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        period date NOT NULL,
        status text NOT NULL CHECK (status IN ('queued', 'retrying', 'reported', 'failed')),
        customer_id text,
        stripe_invoice_id text,
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        reported_at timestamptz,
        UNIQUE (tenant_id, period)
    )""",
    """CREATE INDEX invoices_due ON invoices (next_attempt_at)
        WHERE status IN ('queued', 'retrying')""",
    """CREATE TABLE invoice_lines (
        invoice_id uuid NOT NULL REFERENCES invoices (id),
        tenant_id uuid NOT NULL,
        product text NOT NULL,
        quantity bigint NOT NULL CHECK (quantity >= 0),
        unit_amount_decimal numeric(20, 12) NOT NULL,
        amount_cents bigint NOT NULL,
        stripe_invoice_item_id text,
        PRIMARY KEY (invoice_id, product)
    )""",
    *(
        statement
        for table in ("invoices", "invoice_lines")
        for statement in (
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
            f"CREATE POLICY tenant_isolation ON {table} USING ({TENANT})",
            f"GRANT SELECT, INSERT, UPDATE ON {table} TO {ROLE}",
        )
    ),
    # What the reporter and the gauges read across tenants; SECURITY DEFINER as the tables' owner,
    # so the service's role (bound by the policies) needs no BYPASSRLS for it.
    """CREATE FUNCTION invoices_due(max_rows integer)
        RETURNS TABLE (tenant_id uuid, id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
        AS $$ SELECT i.tenant_id, i.id FROM invoices i
              WHERE i.status IN ('queued', 'retrying') AND i.next_attempt_at <= now()
              ORDER BY i.next_attempt_at LIMIT max_rows $$""",
    """CREATE FUNCTION invoice_queue()
        RETURNS TABLE (status text, invoices bigint, oldest_s float8)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
        AS $$ SELECT i.status, count(*), extract(epoch FROM now() - min(i.created_at))::float8
              FROM invoices i GROUP BY i.status $$""",
    *(
        statement
        for function in ("invoices_due(integer)", "invoice_queue()")
        for statement in (
            f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC",
            f"GRANT EXECUTE ON FUNCTION {function} TO {ROLE}",
        )
    ),
)


def upgrade() -> None:
    migrations.execute_all(STATEMENTS)


downgrade = migrations.forward_only
