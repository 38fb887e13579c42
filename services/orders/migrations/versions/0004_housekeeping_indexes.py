"""Indexes housekeeping deletes by (kit schema.IDEMPOTENCY_V2): dedupe rows by age, and
Idempotency-Keys by expiry, found without reading the whole table.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from meridian.core import migrations
from meridian.services.kit.storage import schema

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    migrations.execute_all(schema.IDEMPOTENCY_V2)


downgrade = migrations.forward_only
