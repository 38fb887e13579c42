"""Orders, the outbox, Idempotency-Keys and consumer dedupe, with RLS by tenant.

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

ROLE = "meridian_orders_app"
TENANT_POLICY = "tenant_id = nullif(current_setting('meridian.tenant_id', true), '')::uuid"
TENANT_TABLES = ("orders", "idempotency_keys")

STATEMENTS = (
    f"""DO $$ BEGIN CREATE ROLE {ROLE} NOLOGIN;
       EXCEPTION WHEN duplicate_object THEN NULL; END $$""",
    f"GRANT {ROLE} TO CURRENT_USER",
    """CREATE TABLE orders (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL,
        state text NOT NULL CHECK (state IN ('pending', 'confirmed', 'fulfilled', 'canceled')),
        lines jsonb NOT NULL,
        allocations jsonb NOT NULL DEFAULT '[]',
        reference text,
        reason text,
        reason_detail text,
        announced boolean NOT NULL DEFAULT false,
        release_pending boolean NOT NULL DEFAULT false,
        attempts integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )""",
    "CREATE INDEX orders_by_tenant ON orders (tenant_id, created_at DESC, id)",
    "CREATE INDEX orders_unfinished ON orders (updated_at) WHERE state = 'pending' OR release_pending",
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
    f"GRANT SELECT, INSERT, UPDATE, DELETE ON orders, idempotency_keys TO {ROLE}",
    f"GRANT SELECT, INSERT ON processed_messages TO {ROLE}",
    f"GRANT INSERT ON outbox TO {ROLE}",
    f"GRANT USAGE ON SEQUENCE outbox_id_seq TO {ROLE}",
    # The sweeper works across tenants before it knows which: one narrow SECURITY DEFINER lookup
    # of (tenant, order) pairs with work left, nothing else; the work itself runs per tenant.
    """CREATE FUNCTION orders_unfinished(older_than interval, max_rows integer)
        RETURNS TABLE (tenant_id uuid, id uuid)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
        AS $$ SELECT o.tenant_id, o.id FROM orders o
              WHERE (o.state = 'pending' OR o.release_pending)
                AND o.updated_at < now() - older_than
              ORDER BY o.updated_at LIMIT max_rows $$""",
    "REVOKE ALL ON FUNCTION orders_unfinished(interval, integer) FROM PUBLIC",
    f"GRANT EXECUTE ON FUNCTION orders_unfinished(interval, integer) TO {ROLE}",
)


def upgrade() -> None:
    migrations.execute_all(STATEMENTS)


downgrade = migrations.forward_only
