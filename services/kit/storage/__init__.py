"""A service's own database: migrations and the pool opened the same way, the kit's shared tables
(outbox, dedupe, idempotency keys) and the housekeeping that keeps them small."""
