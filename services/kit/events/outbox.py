"""Transactional outbox: an event is stored with the change that caused it, then relayed.

A service writes its events with `write(connection, ...)` (several at once: `write_all`) inside the
same transaction as its business rows, so "order saved" and "order.created will be published"
commit together or not at all — no event is lost while RabbitMQ is down. `Relay` (one task per
replica, any number of replicas) claims unsent rows with `FOR UPDATE SKIP LOCKED`, publishes a
batch in id order with publisher confirms (awaited together), and marks what was confirmed sent in
the same transaction.
A broker outage only rolls the claim back; the relay reconnects with full-jitter backoff and
resends. A crash between confirm and commit resends a row: delivery is at-least-once, with the
row's `message_id` as the dedupe key consumers pass to `idempotency.first_time`.

A row the broker refuses by itself (nacked, returned unroutable, or aimed at an exchange that does
not exist) must not hold back the rows behind it: each refusal is counted on the row, and after
`max_attempts` the row is parked (`parked_at`, `last_error`; logged at error level and counted in
`outbox_parked_total`). Rows behind it flow on; order is kept among rows that succeed. To
re-drive parked rows once the cause is fixed: `UPDATE outbox SET parked_at = NULL, attempts = 0
WHERE parked_at IS NOT NULL`.

Include `schema.OUTBOX_V1` and `schema.OUTBOX_V2` in the service's migrations; the table has no
tenant policy because the relay reads every tenant's events.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, NamedTuple

import aiormq.exceptions
from aiohttp import web

from meridian.core.runtime import db, resilience, tracing
from meridian.core.runtime import logging as meridian_logging
from meridian.services.kit import metrics
from meridian.services.kit.events import messaging

log = meridian_logging.get_logger("meridian.services.kit.events.outbox")


class Message(NamedTuple):
    """One event for `write_all`."""

    exchange: str
    routing_key: str
    payload: Mapping[str, Any]
    message_id: uuid.UUID
    headers: Mapping[str, str] | None = None


async def write(
    connection: db.Connection,
    *,
    exchange: str,
    routing_key: str,
    payload: Mapping[str, Any],
    headers: Mapping[str, str] | None = None,
    message_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Store one event in the caller's transaction; the current trace travels with it."""
    message_id = message_id or uuid.uuid4()
    await write_all(connection, [Message(exchange, routing_key, payload, message_id, headers)])
    return message_id


async def write_all(connection: db.Connection, messages: Sequence[Message]) -> None:
    """Store the events of one change in one statement (one round trip), relayed in this order."""
    if not connection.is_in_transaction():
        raise RuntimeError("outbox.write must run inside the transaction of the change it reports")
    if not messages:
        return
    await connection.execute(
        "INSERT INTO outbox (message_id, exchange, routing_key, payload, headers)"
        " SELECT m.message_id, m.exchange, m.routing_key, m.payload, m.headers"
        " FROM unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[])"
        " WITH ORDINALITY AS m (message_id, exchange, routing_key, payload, headers, n)"
        " ORDER BY m.n",
        [m.message_id for m in messages],
        [m.exchange for m in messages],
        [m.routing_key for m in messages],
        [json.dumps(m.payload) for m in messages],
        [json.dumps(dict(tracing.inject(dict(m.headers or {})))) for m in messages],
    )


class Relay:
    """Publishes committed outbox rows until `stop()`; safe to run several against one table."""

    def __init__(
        self,
        pool: db.Pool,
        amqp_url: str,
        *,
        name: str,
        batch_size: int = 100,
        poll_interval: float = 0.2,
        backoff_base: float = 0.2,
        backoff_cap: float = 10.0,
        max_attempts: int = 5,
        metrics_: metrics.Metrics | None = None,
    ) -> None:
        self.pool = pool
        self.amqp_url = amqp_url
        self.name = name
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.max_attempts = max_attempts
        self.metrics = metrics_
        self.failures = 0  # consecutive; readable by tests and readiness
        self._isolating = 0  # rows still to publish one at a time (see relay_once)
        self._stopping = asyncio.Event()

    async def relay_once(self, publisher: messaging.Publisher) -> int:
        """Claim, publish and mark one batch; returns how many rows were sent.

        Raises, after committing what it could, when the channel or connection broke. A message
        aimed at a missing exchange closes the whole channel, failing every publish in flight
        alike; the batch is then replayed one row at a time (`_isolating`), so only the row that
        caused it is counted.
        """
        broken: BaseException | None = None
        async with self.pool.acquire() as connection, connection.transaction():
            rows = await connection.fetch(
                "SELECT id, message_id, exchange, routing_key, payload, headers, attempts"
                " FROM outbox WHERE sent_at IS NULL AND parked_at IS NULL"
                " ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
                1 if self._isolating else self.batch_size,
            )
            outcomes = await asyncio.gather(
                *(self._publish(publisher, row) for row in rows), return_exceptions=True
            )
            sent = [row["id"] for row, outcome in zip(rows, outcomes, strict=True) if not outcome]
            if sent:
                await connection.execute(
                    "UPDATE outbox SET sent_at = now() WHERE id = ANY($1::bigint[])", sent
                )
            decided = len(sent)
            for row, outcome in zip(rows, outcomes, strict=True):
                alone = len(rows) == 1
                if isinstance(outcome, messaging.NotConfirmed) or (
                    alone and isinstance(outcome, CHANNEL_REFUSED)
                ):
                    await self._refused(connection, row, outcome)
                    decided += 1
                if isinstance(outcome, Exception) and not isinstance(
                    outcome, messaging.NotConfirmed
                ):
                    broken = broken or outcome
            if self._isolating:
                self._isolating = max(0, self._isolating - decided)
            elif any(isinstance(outcome, CHANNEL_REFUSED) for outcome in outcomes):
                self._isolating = len(rows) - len(sent)
        if broken is not None:
            raise broken
        return len(sent)

    @staticmethod
    async def _publish(publisher: messaging.Publisher, row: Any) -> None:
        await publisher.publish(
            row["exchange"],
            row["routing_key"],
            row["payload"].encode(),
            message_id=str(row["message_id"]),
            headers=json.loads(row["headers"]),
        )

    async def _refused(self, connection: db.Connection, row: Any, error: BaseException) -> None:
        attempts = row["attempts"] + 1
        parked = attempts >= self.max_attempts
        reason = f"{type(error).__name__}: {error}"
        await connection.execute(
            "UPDATE outbox SET attempts = $2, last_error = $3,"
            " parked_at = CASE WHEN $4 THEN now() END WHERE id = $1",
            row["id"],
            attempts,
            reason,
            parked,
        )
        fields = {"relay": self.name, "outbox_id": row["id"], "exchange": row["exchange"]}
        if parked:
            log.error("Outbox row parked", attempts=attempts, error=reason, **fields)
            if self.metrics is not None:
                self.metrics.outbox_parked.inc()
        else:
            log.warning(
                "Outbox row refused by the broker", attempts=attempts, error=reason, **fields
            )

    async def run(self) -> None:
        connection = None
        try:
            while not self._stopping.is_set():
                try:
                    if connection is None:
                        connection = await messaging.connect(self.amqp_url, name=self.name)
                    channel = await messaging.open_channel(connection)
                    try:
                        publisher = messaging.Publisher(channel)
                        while not self._stopping.is_set():
                            sent = await self.relay_once(publisher)
                            self.failures = 0
                            if sent < self.batch_size:
                                await self._sleep(self.poll_interval)
                    finally:
                        if not channel.is_closed:
                            await channel.close()
                except Exception as error:  # the relay outlives broker and database outages
                    self.failures += 1
                    delay = resilience.backoff(
                        min(self.failures, 16),
                        base=self.backoff_base,
                        cap=self.backoff_cap,
                        rng=random.random,
                    )
                    log.warning(
                        "Outbox relay failed; retrying",
                        relay=self.name,
                        failures=self.failures,
                        retry_in=round(delay, 3),
                        error=f"{type(error).__name__}: {error}",
                    )
                    await self._sleep(delay)
        finally:
            if connection is not None:
                await connection.close()

    async def _sleep(self, seconds: float) -> None:
        """Sleeps, but wakes at once on stop()."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    def stop(self) -> None:
        self._stopping.set()


CHANNEL_REFUSED = (aiormq.exceptions.ChannelNotFoundEntity,)
"""The broker closed the channel over one message (its exchange does not exist)."""


def relay_context(
    pool_key: web.AppKey[db.Pool], amqp_url: str, *, name: str, batch_size: int = 100
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry (after the pool's): the relay runs as long as the app does."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        relay = Relay(
            app[pool_key], amqp_url, name=name, batch_size=batch_size, metrics_=metrics.of(app)
        )
        task = asyncio.create_task(relay.run(), name=f"outbox-relay-{name}")
        try:
            yield
        finally:
            relay.stop()
            await task

    return context
