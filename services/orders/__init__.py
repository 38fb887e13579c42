"""Orders: accept an order once (Idempotency-Key), reserve its stock, and walk its state machine.

pending -> confirmed -> fulfilled, or canceled from pending/confirmed (`states`). Creation and
the reservation call are `flow`; the inventory client with its breaker is `inventory`; shipments
arrive through `consumers`; `sweeper` finishes what an outage left half-done. Every event leaves
through the outbox.
"""

from pathlib import Path

MIGRATIONS = Path(__file__).parent / "migrations"
"""The schema of orders' own database (`meridian_orders`), applied by `kit.database.contexts`."""
