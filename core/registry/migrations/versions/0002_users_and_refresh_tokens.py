"""Tenants' users and their refresh tokens, with row-level security by tenant.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from meridian.core import migrations

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

STATEMENTS = (
    """CREATE TABLE platform.users (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES platform.tenants (id) ON DELETE CASCADE,
        email text NOT NULL CHECK (email = lower(email) AND position('@' IN email) > 1),
        password_hash text NOT NULL,
        scopes text[] NOT NULL DEFAULT '{}',
        state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'disabled')),
        created_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (tenant_id, email)
    )""",
    # A refresh token is single-use: refreshing marks it used and issues its successor in the
    # same family; presenting a used one again revokes the whole family (a stolen copy dies).
    """CREATE TABLE platform.refresh_tokens (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES platform.tenants (id) ON DELETE CASCADE,
        user_id uuid NOT NULL REFERENCES platform.users (id) ON DELETE CASCADE,
        family_id uuid NOT NULL,
        token_sha256 bytea NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT now(),
        expires_at timestamptz NOT NULL,
        used_at timestamptz,
        revoked_at timestamptz
    )""",
    "CREATE INDEX refresh_tokens_family ON platform.refresh_tokens (tenant_id, family_id)",
    "CREATE INDEX refresh_tokens_user ON platform.refresh_tokens (user_id)",
    "ALTER TABLE platform.users ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE platform.users FORCE ROW LEVEL SECURITY",
    """CREATE POLICY tenant_isolation ON platform.users
        USING (tenant_id = nullif(current_setting('meridian.tenant_id', true), '')::uuid)""",
    "ALTER TABLE platform.refresh_tokens ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE platform.refresh_tokens FORCE ROW LEVEL SECURITY",
    """CREATE POLICY tenant_isolation ON platform.refresh_tokens
        USING (tenant_id = nullif(current_setting('meridian.tenant_id', true), '')::uuid)""",
    "GRANT SELECT, INSERT, UPDATE ON platform.users TO meridian_app",
    "GRANT SELECT, INSERT, UPDATE ON platform.refresh_tokens TO meridian_app",
    # Login names its tenant before any tenant id is known: like find_api_key, one narrow
    # SECURITY DEFINER lookup (name -> id, state) is the only read that crosses tenants.
    """CREATE FUNCTION platform.find_tenant(tenant_name text)
        RETURNS TABLE (tenant_id uuid, tenant_state text)
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = platform, pg_temp
        AS $$ SELECT t.id, t.state FROM platform.tenants t WHERE t.name = tenant_name $$""",
    "REVOKE ALL ON FUNCTION platform.find_tenant(text) FROM PUBLIC",
    "GRANT EXECUTE ON FUNCTION platform.find_tenant(text) TO meridian_app",
)


def upgrade() -> None:
    migrations.execute_all(STATEMENTS)


downgrade = migrations.forward_only
