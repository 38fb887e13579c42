"""Indexes housekeeping deletes by (kit schema.IDEMPOTENCY_V2): dedupe rows by age, and
Idempotency-Keys by expiry, found without reading the whole table.

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
    migrations.execute_all(schema.IDEMPOTENCY_V2)


downgrade = migrations.forward_only
