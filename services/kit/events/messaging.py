"""RabbitMQ for services: the connection, confirmed publishing, and a consumer's topology.

Topology per consumer (`Topology.declare`), all durable quorum queues (RabbitMQ 3.10 has them
built in, replicated, with message TTL and at-least-once dead-lettering):
- the exchange (topic) and the work queue `<service>.<purpose>`, bound by routing key;
- `<queue>.retry`, which holds a failed message for `retry_delay_s` (x-message-ttl) and then
  dead-letters it back into the work queue through the default exchange;
- `<queue>.dlq`, where a message lands after `max_retries` (3) retries.
How failures move between them is `consumer`'s job. A service opens one robust connection with
`connection_context` (first in cleanup_ctx, so it closes after its consumers).
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika import abc as pika_abc
from aio_pika import exceptions as pika_exceptions
from aio_pika.connection import make_url
from aiohttp import web

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import tracing
from meridian.services.kit.settings import MessagingSettings

QUORUM: dict[str, Any] = {"x-queue-type": "quorum"}

CONNECTION = web.AppKey("amqp", pika_abc.AbstractRobustConnection)


class NotConfirmed(Exception):
    """The broker nacked the message or returned it as unroutable: it was not stored."""


async def connect(url: str, *, name: str) -> pika_abc.AbstractRobustConnection:
    """A robust connection: reconnects and restores channels, queues and consumers by itself.

    Closed here when the first connect fails or is cancelled: `aio_pika.connect_robust` leaves
    that connection to its finalizer, which schedules `close()` on whatever loop is left (an
    unawaited coroutine once the loop is gone) — one leaked connection per attempt while an outbox
    relay retries through a broker outage.
    """
    connection = aio_pika.RobustConnection(
        make_url(url), client_properties={"connection_name": name}
    )
    try:
        await connection.connect()
    except BaseException:
        await asyncio.shield(connection.close())
        raise
    return connection


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
class Topology:
    exchange: str
    queue: str  # <service>.<purpose>
    routing_keys: tuple[str, ...]
    max_retries: int = 3
    retry_delay_s: float = 5.0

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
                # Whole milliseconds, an int: a redeclaration must match the queue's arguments.
                "x-message-ttl": round(self.retry_delay_s * 1000),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": self.queue,
                # Quorum queues dead-letter at-least-once only with reject-publish overflow.
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )
        await channel.declare_queue(self.dlq, durable=True, arguments=QUORUM)
        return queue


async def ping(connection: pika_abc.AbstractRobustConnection) -> None:
    if connection.is_closed:
        raise ConnectionError("AMQP connection is closed (reconnecting)")


def connection_context(settings: MessagingSettings) -> runtime_app.CleanupContext:
    """A `cleanup_ctx` entry: the connection into `app[CONNECTION]`, the "rabbitmq" check."""

    async def create() -> pika_abc.AbstractRobustConnection:
        url = runtime_app.required(settings, settings.amqp_url, "amqp_url")
        return await connect(url, name=settings.name)

    async def close(connection: pika_abc.AbstractRobustConnection) -> None:
        await connection.close()

    return runtime_app.dependency(
        CONNECTION, check="rabbitmq", create=create, close=close, ping=ping
    )


RETAINED_ARGUMENTS: dict[str, Any] = {
    **QUORUM,
    "x-max-length": 100_000,
    "x-overflow": "drop-head",
    "x-message-ttl": 24 * 3600 * 1000,
}


def exchanges_context(*names: str) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry after the connection's: the exchanges this service publishes to
    exist before its outbox relay sends (a publish to a missing exchange fails the batch).

    Each also gets `<exchange>.retained`, bound to every routing key and bounded (newest 100k
    messages, 24 h): publishing is `mandatory`, so an event no consumer has bound yet would come
    back NO_ROUTE and block the outbox; here it is kept a day instead, for replay and debugging.
    """

    async def context(app: web.Application) -> AsyncIterator[None]:
        channel = await open_channel(app[CONNECTION])
        try:
            for name in names:
                await declare_exchange(channel, name)
                queue = await channel.declare_queue(
                    f"{name}.retained", durable=True, arguments=RETAINED_ARGUMENTS
                )
                await queue.bind(name, "#")
        finally:
            await channel.close()
        yield

    return context
