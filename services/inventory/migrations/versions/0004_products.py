"""The tenant's product catalogue, with RLS by tenant like stock.

A deleted product stays as a tombstone row (`deleted_at` set) so its `version` keeps growing: a
SKU deleted then created again continues from its last version, and a consumer that keeps the
highest version it saw (search, with Elasticsearch's external versions) never lets an older event
win, however late it arrives.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from meridian.core import migrations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ROLE = "meridian_inventory_app"
TENANT_POLICY = "tenant_id = nullif(current_setting('meridian.tenant_id', true), '')::uuid"

STATEMENTS = (
    """CREATE TABLE products (
        tenant_id uuid NOT NULL,
        sku text NOT NULL,
        name text NOT NULL,
        description text NOT NULL DEFAULT '',
        brand text NOT NULL DEFAULT '',
        category text NOT NULL DEFAULT '',
        price_amount numeric(12, 2) NOT NULL CHECK (price_amount >= 0),
        price_currency char(3) NOT NULL,
        attributes jsonb NOT NULL DEFAULT '{}',
        image_keys text[] NOT NULL DEFAULT '{}',
        active boolean NOT NULL DEFAULT true,
        version bigint NOT NULL DEFAULT 1,
        deleted_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (tenant_id, sku)
    )""",
    "ALTER TABLE products ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE products FORCE ROW LEVEL SECURITY",
    f"CREATE POLICY tenant_isolation ON products USING ({TENANT_POLICY})",
    f"GRANT SELECT, INSERT, UPDATE ON products TO {ROLE}",
)


def upgrade() -> None:
    migrations.execute_all(STATEMENTS)


downgrade = migrations.forward_only
