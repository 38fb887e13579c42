"""Inventory: stock per tenant, SKU and warehouse; reservations that never oversell.

REST for tenant dashboards (`routes`), the product catalogue (`products`: product.upserted /
`product.deleted` with a version per SKU), the reservation API orders calls (`contracts`), a
consumer of `fulfillment.events` that takes shipped stock off the shelves (`consumers`), and
`stock.changed` events on `inventory.events` through the outbox.
"""

from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
"""The schema of inventory's own database (`meridian_inventory`), applied by `kit.database.contexts`."""
