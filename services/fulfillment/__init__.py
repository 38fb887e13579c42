"""Fulfillment: turns confirmed orders into carrier shipments with labels in S3.

Consumes `order.confirmed` from `orders.events` (queue `fulfillment.orders`), buys one shipment
per warehouse the order's stock was allocated from, stores each label PDF in the bucket
`meridian-fulfillment`, records the shipments (tenant-scoped, row-level security) and publishes
`shipment.created` on `fulfillment.events` through the outbox. Serves the shipments read API.
"""

from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
"""The schema of fulfillment's own database (`meridian_fulfillment`), applied by `kit.database.contexts`."""
