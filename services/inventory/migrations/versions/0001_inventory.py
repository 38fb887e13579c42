"""Stock per SKU and warehouse, reservations, outbox and consumer dedupe, with RLS by tenant.

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

ROLE = "meridian_inventory_app"
TENANT_POLICY = "tenant_id = nullif(current_setting('meridian.tenant_id', true), '')::uuid"
TENANT_TABLES = ("stock", "reservations", "idempotency_keys")

STATEMENTS = (
    f"""DO $$ BEGIN CREATE ROLE {ROLE} NOLOGIN;
       EXCEPTION WHEN duplicate_object THEN NULL; END $$""",
    f"GRANT {ROLE} TO CURRENT_USER",
    """CREATE TABLE stock (
        tenant_id uuid NOT NULL,
        sku text NOT NULL,
        warehouse text NOT NULL,
        on_hand integer NOT NULL CHECK (on_hand >= 0),
        reserved integer NOT NULL DEFAULT 0 CHECK (reserved >= 0),
        version bigint NOT NULL DEFAULT 1,
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, sku, warehouse),
        CONSTRAINT reserved_within_on_hand CHECK (reserved <= on_hand)
    )""",
    """CREATE TABLE reservations (
        tenant_id uuid NOT NULL,
        order_id uuid NOT NULL,
        state text NOT NULL CHECK (state IN ('held', 'released', 'shipped')),
        allocations jsonb NOT NULL DEFAULT '[]',
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, order_id)
    )""",
    *schema.OUTBOX_V1,
    *schema.IDEMPOTENCY_V1,
    *(
        statement
        for table in TENANT_TABLES
        for statement in (
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
            f"CREATE POLICY tenant_isolation ON {table} USING ({TENANT_POLICY})",
        )
    ),
    f"GRANT USAGE ON SCHEMA public TO {ROLE}",
    f"GRANT SELECT, INSERT, UPDATE ON stock, reservations TO {ROLE}",
    f"GRANT SELECT, INSERT, UPDATE, DELETE ON idempotency_keys TO {ROLE}",
    f"GRANT SELECT, INSERT ON processed_messages TO {ROLE}",
    f"GRANT INSERT ON outbox TO {ROLE}",
    f"GRANT USAGE ON SEQUENCE outbox_id_seq TO {ROLE}",
)


def upgrade() -> None:
    migrations.execute_all(STATEMENTS)


downgrade = migrations.forward_only
