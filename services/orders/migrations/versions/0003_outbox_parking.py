"""The outbox counts the broker's refusals per row and parks a row it keeps refusing
(kit schema.OUTBOX_V2), so one bad event cannot hold back the rest.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from meridian.core import migrations
from meridian.services.kit.storage import schema

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    migrations.execute_all(schema.OUTBOX_V2)


downgrade = migrations.forward_only
