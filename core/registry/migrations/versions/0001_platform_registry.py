"""Tenants, API keys and gateway limits, with row-level security by tenant.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from meridian.core import migrations

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

STATEMENTS = (
    "CREATE SCHEMA platform",
    # The services' role: no BYPASSRLS, so policies below bind it. Login roles are its members.
    """DO $$ BEGIN CREATE ROLE meridian_app NOLOGIN;
       EXCEPTION WHEN duplicate_object THEN NULL; END $$""",
    """CREATE TABLE platform.tenants (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        name text NOT NULL UNIQUE,
        tier text NOT NULL CHECK (tier IN ('starter', 'growth', 'enterprise')),
        region text NOT NULL,
        display_name text NOT NULL DEFAULT '',
        state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'suspended')),
        limits jsonb NOT NULL DEFAULT '{}',
        rate_limit_rps integer NOT NULL CHECK (rate_limit_rps > 0),
        rate_limit_burst integer NOT NULL CHECK (rate_limit_burst > 0),
        billing_price_key text,
        stripe_customer_id text,
        stripe_subscription_id text,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )""",
    """CREATE TABLE platform.api_keys (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES platform.tenants (id) ON DELETE CASCADE,
        prefix text NOT NULL UNIQUE,
        secret_sha256 bytea NOT NULL,
        purpose text NOT NULL,
        state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'suspended', 'revoked')),
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
    )""",
    "CREATE INDEX api_keys_tenant_id ON platform.api_keys (tenant_id)",
    "ALTER TABLE platform.tenants ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE platform.tenants FORCE ROW LEVEL SECURITY",
    """CREATE POLICY tenant_isolation ON platform.tenants
        USING (id = nullif(current_setting('meridian.tenant_id', true), '')::uuid)""",
    "ALTER TABLE platform.api_keys ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE platform.api_keys FORCE ROW LEVEL SECURITY",
    """CREATE POLICY tenant_isolation ON platform.api_keys
        USING (tenant_id = nullif(current_setting('meridian.tenant_id', true), '')::uuid)""",
    "GRANT USAGE ON SCHEMA platform TO meridian_app",
    "GRANT SELECT ON platform.tenants TO meridian_app",
    "GRANT SELECT, INSERT, UPDATE ON platform.api_keys TO meridian_app",
    # Authenticating a key happens before the tenant is known, so RLS cannot scope it: one
    # narrow SECURITY DEFINER lookup by the key's public prefix, and nothing else, crosses tenants.
    """CREATE FUNCTION platform.find_api_key(key_prefix text)
        RETURNS TABLE (tenant_id uuid, secret_sha256 bytea, key_state text, tenant_state text)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = platform, pg_temp
        AS $$ SELECT k.tenant_id, k.secret_sha256, k.state, t.state
              FROM platform.api_keys k JOIN platform.tenants t ON t.id = k.tenant_id
              WHERE k.prefix = key_prefix $$""",
    "REVOKE ALL ON FUNCTION platform.find_api_key(text) FROM PUBLIC",
    "GRANT EXECUTE ON FUNCTION platform.find_api_key(text) TO meridian_app",
)


def upgrade() -> None:
    migrations.execute_all(STATEMENTS)


downgrade = migrations.forward_only
