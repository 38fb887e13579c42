"""Consuming with manual acks, plugin-free retries and dead letters, and a graceful stop.

On failure the consumer republishes the message (confirmed) into `<queue>.retry` with header
`x-retry-count` + 1, then acks the original: the work queue is never blocked by a poison message
and good messages behind it keep flowing; the retry queue's TTL returns it after the delay. After
`max_retries` (3) retries — or at once when the handler raises `Permanent` — it goes to
`<queue>.dlq` with its last error in `x-last-error`. Delivery is at-least-once (a crash between
republish and ack duplicates): handlers dedupe with `idempotency.first_time`. Every delivery is
counted in `messages_handled_total{queue, outcome}`: `acked`, `retried`, `dead_lettered`, or
`requeued` (handed back to the broker: stopping, or the retry could not be published).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from aio_pika import abc as pika_abc
from aiohttp import web
from opentelemetry import trace

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import logging as meridian_logging
from meridian.core.runtime import tracing
from meridian.services.kit import metrics
from meridian.services.kit.events import messaging

RETRY_COUNT_HEADER = "x-retry-count"
ROUTING_KEY_HEADER = "x-original-routing-key"
ERROR_HEADER = "x-last-error"

log = meridian_logging.get_logger("meridian.services.kit.events.consumer")


class Permanent(Exception):
    """Raised by a handler when retrying cannot help: the message goes to the DLQ at once."""


@dataclass(frozen=True)
class Delivery:
    """What a handler gets: the message as published, plus how often it was retried."""

    message_id: str
    routing_key: str
    body: bytes
    headers: Mapping[str, Any]
    retry_count: int


Handler = Callable[[Delivery], Awaitable[None]]


def _retry_count(headers: Mapping[str, Any]) -> int:
    value = headers.get(RETRY_COUNT_HEADER, 0)
    return value if isinstance(value, int) else 0


@dataclass
class Consumer:
    """Manual-ack consumer of one topology; `stop` lets in-flight handlers finish first."""

    channel: pika_abc.AbstractChannel
    topology: messaging.Topology
    handler: Handler
    prefetch: int = 16
    tracer: trace.Tracer = field(default_factory=lambda: trace.get_tracer(tracing.INSTRUMENTATION))
    meters: metrics.Metrics | None = None
    _queue: pika_abc.AbstractQueue | None = field(default=None, init=False)
    _tag: str | None = field(default=None, init=False)
    _in_flight: set[asyncio.Task[Any]] = field(default_factory=set, init=False)

    async def start(self) -> None:
        await self.channel.set_qos(prefetch_count=self.prefetch)
        self._queue = await self.topology.declare(self.channel)
        self._tag = await self._queue.consume(self._on_message, no_ack=False)

    async def stop(self, grace: float = 30.0) -> None:
        if self._queue is not None and self._tag is not None:
            await self._queue.cancel(self._tag)
            self._tag = None
        if self._in_flight:
            await asyncio.wait(set(self._in_flight), timeout=grace)

    async def _on_message(self, message: pika_abc.AbstractIncomingMessage) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._in_flight.add(task)
        try:
            await self._process(message)
        finally:
            self._in_flight.discard(task)

    async def _process(self, message: pika_abc.AbstractIncomingMessage) -> None:
        headers = dict(message.headers or {})
        delivery = Delivery(
            message_id=message.message_id or "",
            routing_key=str(headers.get(ROUTING_KEY_HEADER) or message.routing_key or ""),
            body=message.body,
            headers=headers,
            retry_count=_retry_count(headers),
        )
        started = time.perf_counter()
        outcome = "requeued"
        try:
            with tracing.continued_span(
                self.tracer,
                f"{self.topology.queue} process",
                headers,
                kind=trace.SpanKind.CONSUMER,
                attributes={"messaging.destination.name": self.topology.queue},
            ):
                await self.handler(delivery)
        except asyncio.CancelledError:
            await message.nack(requeue=True)
            raise
        except Exception as error:
            outcome = await self._fail(message, delivery, error)
        else:
            await message.ack()
            outcome = "acked"
        finally:
            if self.meters is not None:
                self.meters.handled(self.topology.queue, outcome, time.perf_counter() - started)

    async def _fail(
        self, message: pika_abc.AbstractIncomingMessage, delivery: Delivery, error: Exception
    ) -> str:
        """Parks the message in the retry queue or the DLQ; returns which (the outcome)."""
        retry = (
            not isinstance(error, Permanent) and delivery.retry_count < self.topology.max_retries
        )
        target = self.topology.retry_queue if retry else self.topology.dlq
        headers = {
            **delivery.headers,
            ROUTING_KEY_HEADER: delivery.routing_key,
            RETRY_COUNT_HEADER: delivery.retry_count + 1 if retry else delivery.retry_count,
            ERROR_HEADER: f"{type(error).__name__}: {error}"[:500],
        }
        log.warning(
            "Message handling failed",
            queue=self.topology.queue,
            message_id=delivery.message_id,
            retry_count=delivery.retry_count,
            sent_to=target,
            exc_info=error,
        )
        try:
            await messaging.Publisher(self.channel).publish(
                "",
                target,
                delivery.body,
                message_id=delivery.message_id,
                headers=headers,
                content_type=message.content_type or "application/octet-stream",
            )
        except Exception:
            # Not parked anywhere: hand it back to the broker rather than lose it.
            await message.nack(requeue=True)
            raise
        await message.ack()
        return "retried" if retry else "dead_lettered"


def consumer_context(
    topology: messaging.Topology, handler: Handler, *, prefetch: int = 16, grace: float = 30.0
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry after `messaging.connection_context`: consume while the app runs."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        channel = await messaging.open_channel(app[messaging.CONNECTION])
        consumer = Consumer(
            channel, topology, handler, prefetch, app[runtime_app.TRACER], metrics.of(app)
        )
        await consumer.start()
        try:
            yield
        finally:
            await consumer.stop(grace)
            await channel.close()

    return context
