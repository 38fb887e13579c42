"""Auth's signing keys (RS256), with their activation and retirement times.

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
    "CREATE SCHEMA auth",
    # Not tenant-owned (one key signs every tenant's tokens), so no row-level security here; the
    # tenant-owned auth data (users, refresh tokens) is in the platform registry under RLS.
    """CREATE TABLE auth.signing_keys (
        kid text PRIMARY KEY,
        private_key_pem text NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        active_from timestamptz NOT NULL,
        retire_at timestamptz,
        CHECK (retire_at IS NULL OR retire_at > active_from)
    )""",
)


def upgrade() -> None:
    migrations.execute_all(STATEMENTS)


downgrade = migrations.forward_only
