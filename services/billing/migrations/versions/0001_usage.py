"""Metered usage per tenant, period and product (row-level security), and the batch ids applied.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from meridian.core import migrations

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ROLE = "meridian_billing_app"
TENANT = "tenant_id = nullif(current_setting('meridian.tenant_id', true), '')::uuid"

STATEMENTS = (
    # What the service runs as: no BYPASSRLS, so the tenant policies bind it.
    f"""DO $$ BEGIN CREATE ROLE {ROLE} NOLOGIN;
       EXCEPTION WHEN duplicate_object THEN NULL; END $$""",
    f"GRANT {ROLE} TO CURRENT_USER",
    """CREATE TABLE usage (
        tenant_id uuid NOT NULL,
        period date NOT NULL,
        product text NOT NULL,
        quantity bigint NOT NULL CHECK (quantity >= 0),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, period, product)
    )""",
    "ALTER TABLE usage ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE usage FORCE ROW LEVEL SECURITY",
    f"CREATE POLICY tenant_isolation ON usage USING ({TENANT})",
    # The flush ids applied: a platform table (a batch spans tenants), its only reader billing.
    """CREATE TABLE usage_batches (
        batch_id uuid PRIMARY KEY,
        source text NOT NULL,
        sealed_at timestamptz NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(),
        requests bigint NOT NULL
    )""",
    f"GRANT USAGE ON SCHEMA public TO {ROLE}",
    f"GRANT SELECT, INSERT, UPDATE ON usage TO {ROLE}",
    f"GRANT SELECT, INSERT ON usage_batches TO {ROLE}",
)


def upgrade() -> None:
    migrations.execute_all(STATEMENTS)


downgrade = migrations.forward_only
