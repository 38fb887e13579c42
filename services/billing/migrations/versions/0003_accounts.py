"""Each tenant's payment state from Stripe's events (row-level security), and the kit's consumer
bookkeeping (dedupe of `stripe.event` deliveries; the outbox table housekeeping expects).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from meridian.core import migrations
from meridian.services.kit.storage import schema

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

ROLE = "meridian_billing_app"
TENANT = "tenant_id = nullif(current_setting('meridian.tenant_id', true), '')::uuid"

STATEMENTS = (
    """CREATE TABLE accounts (
        tenant_id uuid PRIMARY KEY,
        customer_id text NOT NULL,
        status text NOT NULL CHECK (status IN ('active', 'past_due', 'suspended', 'canceled')),
        past_due_since timestamptz,
        suspended_at timestamptz,
        last_event_id text NOT NULL,
        last_event_type text NOT NULL,
        refunded_cents bigint NOT NULL DEFAULT 0,
        updated_at timestamptz NOT NULL DEFAULT now()
    )""",
    "ALTER TABLE accounts ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE accounts FORCE ROW LEVEL SECURITY",
    f"CREATE POLICY tenant_isolation ON accounts USING ({TENANT})",
    f"GRANT SELECT, INSERT, UPDATE ON accounts TO {ROLE}",
    # Past due for longer than the grace period, not yet suspended: what the suspender acts on.
    """CREATE FUNCTION accounts_overdue(grace interval, max_rows integer)
        RETURNS TABLE (tenant_id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
        AS $$ SELECT a.tenant_id FROM accounts a
              WHERE a.status = 'past_due' AND a.past_due_since < now() - grace
              ORDER BY a.past_due_since LIMIT max_rows $$""",
    # Paid again after billing suspended them: what the suspender gives back.
    """CREATE FUNCTION accounts_to_resume(max_rows integer)
        RETURNS TABLE (tenant_id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
        AS $$ SELECT a.tenant_id FROM accounts a
              WHERE a.status = 'active' AND a.suspended_at IS NOT NULL
              ORDER BY a.updated_at LIMIT max_rows $$""",
    *(
        statement
        for function in ("accounts_overdue(interval, integer)", "accounts_to_resume(integer)")
        for statement in (
            f"REVOKE ALL ON FUNCTION {function} FROM PUBLIC",
            f"GRANT EXECUTE ON FUNCTION {function} TO {ROLE}",
        )
    ),
    *schema.OUTBOX_V1,
    *schema.OUTBOX_V2,
    *schema.IDEMPOTENCY_V1,
    *schema.IDEMPOTENCY_V2,
    f"GRANT SELECT, INSERT ON processed_messages TO {ROLE}",
)


def upgrade() -> None:
    migrations.execute_all(STATEMENTS)


downgrade = migrations.forward_only
