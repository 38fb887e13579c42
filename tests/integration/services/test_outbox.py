"""The outbox relay: rows written while RabbitMQ is unreachable are all published, once each."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aio_pika import abc as pika_abc

from meridian.services.kit import db, messaging, outbox
from meridian.services.kit import schema as kit_schema
from tests.integration.services.conftest import delete_queues
from tests.waiting import eventually


@pytest_asyncio.fixture
async def outbox_pool(pool: db.Pool) -> db.Pool:
    await pool.execute(";".join(kit_schema.OUTBOX_V1))
    return pool


@pytest_asyncio.fixture
async def events(
    amqp: pika_abc.AbstractRobustConnection, suffix: str
) -> AsyncIterator[tuple[str, pika_abc.AbstractQueue]]:
    """A topic exchange and a queue capturing everything published to it."""
    exchange, queue_name = f"test-{suffix}.events", f"test{suffix}.capture"
    channel = await messaging.open_channel(amqp)
    await messaging.declare_exchange(channel, exchange)
    queue = await channel.declare_queue(queue_name, durable=True)
    await queue.bind(exchange, "#")
    yield exchange, queue
    await channel.close()
    await delete_queues(amqp, queue_name, exchange=exchange)


def closed_port_url(real_url: str) -> str:
    """The broker's URL with a port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return real_url.rsplit(":", 1)[0] + f":{port}/"


async def write_events(pool: db.Pool, exchange: str, start: int, count: int) -> list[uuid.UUID]:
    ids = []
    for n in range(start, start + count):
        async with pool.acquire() as connection, connection.transaction():
            ids.append(
                await outbox.write(
                    connection, exchange=exchange, routing_key="order.created", payload={"n": n}
                )
            )
    return ids


async def unsent(pool: db.Pool) -> int:
    count: int = await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
    return count


async def test_nothing_lost_nothing_duplicated_across_a_broker_outage(
    outbox_pool: db.Pool, events: tuple[str, pika_abc.AbstractQueue], amqp_url: str
) -> None:
    exchange, queue = events
    down = outbox.Relay(
        outbox_pool, closed_port_url(amqp_url), name="relay-down", backoff_base=0.05
    )
    down_task = asyncio.create_task(down.run())
    written = await write_events(outbox_pool, exchange, 0, 10)

    async def failing() -> bool:
        """the relay kept retrying against the closed port"""
        return down.failures >= 3

    await eventually(failing, within=20, interval=0.05)
    written += await write_events(outbox_pool, exchange, 10, 10)
    assert await unsent(outbox_pool) == 20
    down.stop()
    await down_task

    # Two relays against the real broker at once: SKIP LOCKED keeps them off each other's rows.
    relays = [outbox.Relay(outbox_pool, amqp_url, name=f"relay-{n}", batch_size=3) for n in (1, 2)]
    tasks = [asyncio.create_task(relay.run()) for relay in relays]

    async def drained() -> bool:
        """every outbox row was marked sent"""
        return await unsent(outbox_pool) == 0

    await eventually(drained, within=30, interval=0.1)
    for relay in relays:
        relay.stop()
    await asyncio.gather(*tasks)

    received: list[pika_abc.AbstractIncomingMessage] = []
    while (message := await queue.get(fail=False, timeout=5)) is not None:
        await message.ack()
        received.append(message)
    assert sorted(m.message_id or "" for m in received) == sorted(str(i) for i in written)
    assert sorted(json.loads(m.body)["n"] for m in received) == list(range(20))


async def test_write_refuses_to_run_outside_a_transaction(outbox_pool: db.Pool) -> None:
    async with outbox_pool.acquire() as connection:
        with pytest.raises(RuntimeError, match="inside the transaction"):
            await outbox.write(connection, exchange="x", routing_key="y", payload={})


async def test_rolled_back_transaction_leaves_no_event(outbox_pool: db.Pool) -> None:
    async def write_then_fail() -> None:
        async with outbox_pool.acquire() as connection, connection.transaction():
            await outbox.write(connection, exchange="x", routing_key="y", payload={})
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        await write_then_fail()
    assert await outbox_pool.fetchval("SELECT count(*) FROM outbox") == 0
