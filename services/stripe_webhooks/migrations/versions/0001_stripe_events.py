"""Stripe events as received (a platform table, see `store`), the outbox and dedupe bookkeeping.

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

ROLE = "meridian_stripe_webhooks_app"

STATEMENTS = (
    f"""DO $$ BEGIN CREATE ROLE {ROLE} NOLOGIN;
       EXCEPTION WHEN duplicate_object THEN NULL; END $$""",
    f"GRANT {ROLE} TO CURRENT_USER",
    """CREATE TABLE stripe_events (
        id text PRIMARY KEY,
        type text NOT NULL,
        created timestamptz NOT NULL,
        payload jsonb NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now(),
        deliveries integer NOT NULL DEFAULT 1,
        processed_at timestamptz,
        outcome text
    )""",
    """CREATE INDEX stripe_events_unprocessed ON stripe_events (received_at, id)
        WHERE processed_at IS NULL""",
    *schema.OUTBOX_V1,
    *schema.OUTBOX_V2,
    *schema.IDEMPOTENCY_V1,
    *schema.IDEMPOTENCY_V2,
    f"GRANT USAGE ON SCHEMA public TO {ROLE}",
    f"GRANT SELECT, INSERT, UPDATE ON stripe_events TO {ROLE}",
    f"GRANT INSERT ON outbox TO {ROLE}",
    f"GRANT USAGE ON SEQUENCE outbox_id_seq TO {ROLE}",
)


def upgrade() -> None:
    migrations.execute_all(STATEMENTS)


downgrade = migrations.forward_only
