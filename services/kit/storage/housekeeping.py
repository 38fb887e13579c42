"""Keeping the kit's bookkeeping tables bounded, and saying how far behind the outbox is.

The outbox, the consumers' dedupe rows and the Idempotency-Keys only ever grow unless something
deletes what has served its purpose; left alone they fill the disk months later, long after
anyone remembers why. One task per replica (`context`), every `housekeeping_interval_s`:

- deletes, in batches of `housekeeping_batch` rows (short transactions, `SKIP LOCKED`, so replicas
  doing the same never wait on each other), outbox rows published more than
  `sent_event_retention_s` ago (unsent and parked rows are never touched), dedupe rows older than
  `processed_message_retention_s` (a redelivery later than that would run again: keep it above
  the longest a message can wait in a queue), and Idempotency-Keys past their expiry;
- sets the gauges on-call reads during a broker outage: `outbox_pending` rows not yet published,
  the age of the oldest (`outbox_oldest_pending_seconds`), and `outbox_parked_rows` waiting for a
  human (see `outbox`'s doc for re-driving them).

It works across tenants, so it runs as the pool's login (the tables' owner), like the outbox relay
and the orders sweeper, never as the tenant-bound application role.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from meridian.core.runtime import db, periodic
from meridian.core.runtime import logging as meridian_logging
from meridian.services.kit import metrics
from meridian.services.kit.settings import MessagingSettings

log = meridian_logging.get_logger("meridian.services.kit.storage.housekeeping")

# Each: the table, and a query of at most $2 row ids (ctid) older than the cutoff $1.
PURGES: tuple[tuple[str, str], ...] = (
    (
        "outbox",
        "SELECT ctid FROM outbox WHERE sent_at < $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED",
    ),
    (
        "processed_messages",
        "SELECT ctid FROM processed_messages WHERE processed_at < $1"
        " LIMIT $2 FOR UPDATE SKIP LOCKED",
    ),
    (
        "idempotency_keys",
        "SELECT ctid FROM idempotency_keys WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED",
    ),
)
BACKLOG = (
    "SELECT count(*) FILTER (WHERE parked_at IS NULL) AS pending,"
    " count(*) FILTER (WHERE parked_at IS NOT NULL) AS parked,"
    " coalesce(extract(epoch FROM now() - min(created_at) FILTER (WHERE parked_at IS NULL)), 0)"
    " AS oldest"
    " FROM outbox WHERE sent_at IS NULL"
)


async def purge(
    pool: db.Pool, table: str, candidates: str, cutoff: datetime.datetime, batch: int
) -> int:
    """Deletes `table`'s rows older than `cutoff`, one short transaction per batch; how many."""
    deleted = 0
    while True:
        async with pool.acquire() as connection, connection.transaction():
            status = await connection.execute(
                f"DELETE FROM {db.quote_ident(table)} WHERE ctid = ANY(ARRAY({candidates}))",
                cutoff,
                batch,
            )
        count = int(status.split()[-1])
        deleted += count
        if count < batch:
            return deleted


async def sweep_once(pool: db.Pool, settings: MessagingSettings, meters: metrics.Metrics) -> None:
    now = datetime.datetime.now(datetime.UTC)
    cutoffs = {
        "outbox": now - datetime.timedelta(seconds=settings.sent_event_retention_s),
        "processed_messages": now
        - datetime.timedelta(seconds=settings.processed_message_retention_s),
        "idempotency_keys": now,
    }
    for table, candidates in PURGES:
        deleted = await purge(pool, table, candidates, cutoffs[table], settings.housekeeping_batch)
        if deleted:
            meters.housekeeping_deleted.labels(table=table).inc(deleted)
            log.info("Old rows deleted", table=table, rows=deleted)
    backlog = await pool.fetchrow(BACKLOG)
    assert backlog is not None
    meters.outbox_pending.set(backlog["pending"])
    meters.outbox_parked_rows.set(backlog["parked"])
    meters.outbox_oldest_pending.set(float(backlog["oldest"]))


def context(
    pool_key: web.AppKey[db.Pool], settings: MessagingSettings
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry after the pool's, for a service with the outbox and idempotency
    tables (`schema.OUTBOX_*`, `schema.IDEMPOTENCY_*`)."""

    async def housekeeping(app: web.Application) -> AsyncIterator[None]:
        async with periodic.running(
            lambda: sweep_once(app[pool_key], settings, metrics.of(app)),
            every_s=settings.housekeeping_interval_s,
            name="housekeeping",
            failure="Housekeeping failed; the next pass retries",
        ):
            yield

    return housekeeping
