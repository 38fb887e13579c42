"""The kit's own tables, as frozen revisions that services' migrations include.

Frozen means: a revision's statements never change once released, because a service's migration
0001 includes `OUTBOX_V1` by reference, and editing it would silently change what 0001 creates on
a fresh database while leaving existing databases as they were. A change to a kit table is a new
constant (`OUTBOX_V2`, holding the ALTER statements) and a new migration in every service that
uses the table. `tests/unit/services/test_schema.py` pins each revision's digest to enforce this.

One statement per string: asyncpg prepares each `execute` with arguments as one statement, and
alembic's `op.execute` runs them one by one.
"""

from __future__ import annotations

OUTBOX_V1: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS outbox (
    id bigserial PRIMARY KEY,
    message_id uuid NOT NULL UNIQUE,
    exchange text NOT NULL,
    routing_key text NOT NULL,
    payload jsonb NOT NULL,
    headers jsonb NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at timestamptz
)""",
    "CREATE INDEX IF NOT EXISTS outbox_unsent ON outbox (id) WHERE sent_at IS NULL",
)
"""The transactional outbox (`outbox.write`, `outbox.Relay`). No tenant policy: the relay reads
every tenant's events."""

OUTBOX_V2: tuple[str, ...] = (
    "ALTER TABLE outbox ADD COLUMN IF NOT EXISTS attempts integer NOT NULL DEFAULT 0",
    "ALTER TABLE outbox ADD COLUMN IF NOT EXISTS last_error text",
    "ALTER TABLE outbox ADD COLUMN IF NOT EXISTS parked_at timestamptz",
    "DROP INDEX IF EXISTS outbox_unsent",
    "CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL AND parked_at IS NULL",
)
"""A row the broker keeps refusing is counted and then parked, so it cannot hold back the rest."""

IDEMPOTENCY_V1: tuple[str, ...] = (
    """CREATE TABLE IF NOT EXISTS processed_messages (
    consumer text NOT NULL,
    message_id text NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, message_id)
)""",
    """CREATE TABLE IF NOT EXISTS idempotency_keys (
    tenant_id uuid NOT NULL,
    key text NOT NULL,
    fingerprint text NOT NULL,
    status integer,
    content_type text,
    body bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key)
)""",
)
"""Message dedupe (`idempotency.first_time`) and HTTP Idempotency-Key (`idempotency.claim`)."""

IDEMPOTENCY_V2: tuple[str, ...] = (
    "CREATE INDEX IF NOT EXISTS processed_messages_by_age ON processed_messages (processed_at)",
    "CREATE INDEX IF NOT EXISTS idempotency_keys_by_expiry ON idempotency_keys (expires_at)",
)
"""What `housekeeping` deletes by age, found without reading the whole table."""
