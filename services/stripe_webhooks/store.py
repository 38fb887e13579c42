"""The handler's SQL, on its own database. `stripe_events` is a platform table, not a tenant's:
an event arrives before anyone knows its tenant (Stripe names a customer), no tenant reads it, and
its only writer is Stripe's signed POST, so it has no row-level security policy; the service still
works as its own NOLOGIN role (`db_role`), granted only what these functions do.
"""

from __future__ import annotations

import contextlib
import datetime
import json
from collections.abc import AsyncIterator
from typing import NamedTuple

from meridian.core.runtime import db
from meridian.services.stripe_webhooks import models


@contextlib.asynccontextmanager
async def transaction(pool: db.Pool, role: str) -> AsyncIterator[db.Connection]:
    """A transaction as the service's role (`SET LOCAL ROLE`), whatever the pool logs in as."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(f"SET LOCAL ROLE {db.quote_ident(role)}")
        yield connection


async def receive(connection: db.Connection, event: models.StripeEventBody, payload: bytes) -> bool:
    """Store the event; False when its id was stored before (its delivery is counted, no more)."""
    inserted = await connection.fetchval(
        "INSERT INTO stripe_events (id, type, created, payload)"
        " VALUES ($1, $2, to_timestamp($3), $4::jsonb)"
        " ON CONFLICT (id) DO UPDATE SET deliveries = stripe_events.deliveries + 1"
        " RETURNING xmax = 0",
        event.id,
        event.type,
        event.created,
        payload.decode(),
    )
    return bool(inserted)


class Stored(NamedTuple):
    id: str
    type: str
    payload: dict[str, object]


async def claim_unprocessed(connection: db.Connection, limit: int) -> list[Stored]:
    """Oldest first, locked for this transaction; another replica skips them."""
    rows = await connection.fetch(
        "SELECT id, type, payload FROM stripe_events WHERE processed_at IS NULL"
        " ORDER BY received_at, id LIMIT $1 FOR UPDATE SKIP LOCKED",
        limit,
    )
    return [Stored(row["id"], row["type"], json.loads(row["payload"])) for row in rows]


async def mark_processed(connection: db.Connection, event_id: str, outcome: str) -> None:
    await connection.execute(
        "UPDATE stripe_events SET processed_at = now(), outcome = $2 WHERE id = $1",
        event_id,
        outcome,
    )


async def backlog(connection: db.Connection) -> tuple[int, float]:
    """Events not yet processed, and the age in seconds of the oldest (0 when none)."""
    row = await connection.fetchrow(
        "SELECT count(*) AS n, min(received_at) AS oldest FROM stripe_events"
        " WHERE processed_at IS NULL"
    )
    assert row is not None
    oldest: datetime.datetime | None = row["oldest"]
    age = 0.0 if oldest is None else (datetime.datetime.now(datetime.UTC) - oldest).total_seconds()
    return int(row["n"]), max(age, 0.0)
