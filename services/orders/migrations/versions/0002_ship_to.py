"""Orders carry where they ship (`ship_to`, a contracts.Address as JSON); older rows have none.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

from meridian.core import migrations

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE orders ADD COLUMN ship_to jsonb")


downgrade = migrations.forward_only
