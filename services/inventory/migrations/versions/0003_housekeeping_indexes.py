"""Indexes housekeeping deletes by (kit schema.IDEMPOTENCY_V2): dedupe rows by age, and
Idempotency-Keys by expiry, found without reading the whole table.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

from meridian.services.kit import schema

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for statement in schema.IDEMPOTENCY_V2:
        op.execute(statement)


def downgrade() -> None:
    raise NotImplementedError("Migrations are forward-only: write a new revision instead.")
