"""RabbitMQ for services: confirmed publishing, and consuming with retries and dead letters.

Topology per consumer (`Topology.declare`), all durable quorum queues (RabbitMQ 3.10 has them
built in, replicated, with message TTL and at-least-once dead-lettering):
- the exchange (topic) and the work queue `<service>.<purpose>`, bound by routing key;
- `<queue>.retry`, which holds a failed message for `retry_delay_ms` (x-message-ttl) and then
  dead-letters it back into the work queue through the default exchange;
- `<queue>.dlq`, where a message lands after `max_retries` (3) retries, with its last error.
Retries need no plugin: on failure the consumer republishes the message (confirmed) into the retry
queue with header `x-retry-count` + 1, then acks the original, so the work queue is never blocked
by a poison message and good messages behind it keep flowing. A handler raising `Permanent` skips
the retries. Delivery is at-least-once everywhere: consumers dedupe with `idempotency.first_time`.
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aio_pika
from aio_pika import abc as pika_abc
from aio_pika import exceptions as pika_exceptions
from opentelemetry import trace

from meridian.core import logging as meridian_logging
from meridian.services.kit import tracing

RETRY_COUNT_HEADER = "x-retry-count"
ROUTING_KEY_HEADER = "x-original-routing-key"
ERROR_HEADER = "x-last-error"
QUORUM: dict[str, Any] = {"x-queue-type": "quorum"}

log = meridian_logging.get_logger("meridian.services.kit.messaging")


class NotConfirmed(Exception):
    """The broker nacked the message or returned it as unroutable: it was not stored."""


class Permanent(Exception):
    """Raised by a handler when retrying cannot help: the message goes to the DLQ at once."""


async def connect(url: str, *, name: str) -> pika_abc.AbstractRobustConnection:
    """A robust connection: reconnects and restores channels, queues and consumers by itself."""
    return await aio_pika.connect_robust(url, client_properties={"connection_name": name})


async def open_channel(connection: pika_abc.AbstractConnection) -> pika_abc.AbstractChannel:
    """Publisher confirms on; unroutable mandatory messages raise instead of vanishing."""
    return await connection.channel(publisher_confirms=True, on_return_raises=True)


async def declare_exchange(channel: pika_abc.AbstractChannel, name: str) -> None:
    await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)


class Publisher:
    """Persistent, mandatory, confirmed publishing; returns only once the broker has the message."""

    def __init__(self, channel: pika_abc.AbstractChannel, *, timeout: float = 10.0) -> None:
        self.channel = channel
        self.timeout = timeout

    async def publish(
        self,
        exchange: str,
        routing_key: str,
        body: bytes,
        *,
        message_id: str | None = None,
        headers: Mapping[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> str:
        """Publish and wait for the confirm; returns the message id. `exchange=""`: a queue."""
        message_id = message_id or str(uuid.uuid4())
        message = aio_pika.Message(
            body,
            message_id=message_id,
            content_type=content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            timestamp=datetime.datetime.now(datetime.UTC),
            headers=dict(tracing.inject(dict(headers or {}))),
        )
        target = (
            self.channel.default_exchange
            if exchange == ""
            else await self.channel.get_exchange(exchange, ensure=False)
        )
        try:
            await target.publish(message, routing_key, mandatory=True, timeout=self.timeout)
        except pika_exceptions.DeliveryError as error:
            raise NotConfirmed(f"{exchange or 'default'}/{routing_key}: {error}") from error
        return message_id


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


@dataclass(frozen=True)
class Topology:
    exchange: str
    queue: str  # <service>.<purpose>
    routing_keys: tuple[str, ...]
    max_retries: int = 3
    retry_delay_ms: int = 5_000

    @property
    def retry_queue(self) -> str:
        return f"{self.queue}.retry"

    @property
    def dlq(self) -> str:
        return f"{self.queue}.dlq"

    async def declare(self, channel: pika_abc.AbstractChannel) -> pika_abc.AbstractQueue:
        await declare_exchange(channel, self.exchange)
        queue = await channel.declare_queue(self.queue, durable=True, arguments=QUORUM)
        for routing_key in self.routing_keys:
            await queue.bind(self.exchange, routing_key)
        await channel.declare_queue(
            self.retry_queue,
            durable=True,
            arguments={
                **QUORUM,
                "x-message-ttl": self.retry_delay_ms,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": self.queue,
                # Quorum queues dead-letter at-least-once only with reject-publish overflow.
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )
        await channel.declare_queue(self.dlq, durable=True, arguments=QUORUM)
        return queue


@dataclass
class Consumer:
    """Manual-ack consumer of one topology; `stop` lets in-flight handlers finish first."""

    channel: pika_abc.AbstractChannel
    topology: Topology
    handler: Handler
    prefetch: int = 16
    tracer: trace.Tracer = field(default_factory=lambda: trace.get_tracer(tracing.INSTRUMENTATION))
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
            await self._fail(message, delivery, error)
        else:
            await message.ack()

    async def _fail(
        self, message: pika_abc.AbstractIncomingMessage, delivery: Delivery, error: Exception
    ) -> None:
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
            await Publisher(self.channel).publish(
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
