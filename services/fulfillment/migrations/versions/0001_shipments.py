"""Shipments (tenant-scoped, row-level security), the outbox and consumer dedupe bookkeeping.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from meridian.core import migrations
from meridian.services.kit.storage import schema

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


STATEMENTS = (
    # What the service runs as inside `tenant_connection`: no BYPASSRLS, so the policy binds it.
    """DO $$ BEGIN CREATE ROLE meridian_fulfillment_app NOLOGIN;
       EXCEPTION WHEN duplicate_object THEN NULL; END $$""",
    # The login role that runs migrations and the pool may switch to it (SET LOCAL ROLE).
    "GRANT meridian_fulfillment_app TO CURRENT_USER",
    """CREATE TABLE shipments (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        order_id uuid NOT NULL,
        warehouse text NOT NULL,
        carrier text NOT NULL,
        carrier_shipment_id text NOT NULL,
        tracking_number text NOT NULL,
        service text NOT NULL,
        rate_amount numeric(12, 2) NOT NULL,
        rate_currency text NOT NULL,
        label_key text NOT NULL,
        allocations jsonb NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (tenant_id, order_id, warehouse)
    )""",
    "CREATE INDEX shipments_tenant_created ON shipments (tenant_id, created_at DESC, id)",
    "ALTER TABLE shipments ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE shipments FORCE ROW LEVEL SECURITY",
    """CREATE POLICY tenant_isolation ON shipments
        USING (tenant_id = nullif(current_setting('meridian.tenant_id', true), '')::uuid)""",
    *schema.OUTBOX_V1,
    *schema.IDEMPOTENCY_V1,
    "GRANT USAGE ON SCHEMA public TO meridian_fulfillment_app",
    "GRANT SELECT, INSERT ON shipments TO meridian_fulfillment_app",
    "GRANT INSERT ON outbox TO meridian_fulfillment_app",
    "GRANT USAGE ON SEQUENCE outbox_id_seq TO meridian_fulfillment_app",
    "GRANT SELECT, INSERT ON processed_messages TO meridian_fulfillment_app",
)


def upgrade() -> None:
    migrations.execute_all(STATEMENTS)


downgrade = migrations.forward_only
