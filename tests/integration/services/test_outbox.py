"""The outbox relay: rows written while RabbitMQ is unreachable are all published, once each;
a row the broker refuses is parked instead of holding back the rows behind it."""

from __future__ import annotations

import asyncio
import json
import socket
import uuid
from collections.abc import AsyncIterator

import prometheus_client
import pytest
import pytest_asyncio
from aio_pika import abc as pika_abc

from meridian.core.runtime import db
from meridian.services.kit import metrics
from meridian.services.kit.events import messaging, outbox
from meridian.services.kit.storage import schema as kit_schema
from tests.integration.services.conftest import delete_queues
from tests.waiting import eventually


@pytest_asyncio.fixture
async def outbox_pool(pool: db.Pool) -> db.Pool:
    await pool.execute(";".join((*kit_schema.OUTBOX_V1, *kit_schema.OUTBOX_V2)))
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


async def test_a_row_the_broker_refuses_is_parked_and_the_rows_behind_it_flow(
    outbox_pool: db.Pool, events: tuple[str, pika_abc.AbstractQueue], amqp_url: str, suffix: str
) -> None:
    exchange, queue = events
    missing = f"test-{suffix}.no-such-exchange"
    (bad,) = await write_events(outbox_pool, missing, 0, 1)
    good = await write_events(outbox_pool, exchange, 1, 3)
    counters = metrics.create(prometheus_client.CollectorRegistry())
    relay = outbox.Relay(
        outbox_pool,
        amqp_url,
        name="relay-parking",
        max_attempts=2,
        backoff_base=0.05,
        backoff_cap=0.2,
        metrics_=counters,
    )
    task = asyncio.create_task(relay.run())

    async def settled() -> bool:
        """the good rows were sent and the bad one parked"""
        parked = await outbox_pool.fetchval(
            "SELECT parked_at IS NOT NULL FROM outbox WHERE message_id = $1", bad
        )
        return bool(parked) and await unsent(outbox_pool) == 1

    try:
        await eventually(settled, within=30, interval=0.1)
    finally:
        relay.stop()
        await task
    row = await outbox_pool.fetchrow(
        "SELECT attempts, last_error, sent_at FROM outbox WHERE message_id = $1", bad
    )
    assert (row["attempts"], row["sent_at"]) == (2, None)
    assert "NOT_FOUND" in row["last_error"] or "not found" in row["last_error"].lower()
    assert counters.outbox_parked._value.get() == 1
    received = []
    while (message := await queue.get(fail=False, timeout=5)) is not None:
        await message.ack()
        received.append(message.message_id)
    assert sorted(received) == sorted(str(i) for i in good)


async def test_write_all_stores_events_in_the_order_given(outbox_pool: db.Pool) -> None:
    messages = [
        outbox.Message("x", f"event.{n}", {"n": n}, uuid.uuid4(), {"h": str(n)}) for n in range(5)
    ]
    async with outbox_pool.acquire() as connection, connection.transaction():
        await outbox.write_all(connection, messages[:2])
        await outbox.write_all(connection, [])
        await outbox.write_all(connection, messages[2:])
    rows = await outbox_pool.fetch(
        "SELECT message_id, routing_key, payload, headers FROM outbox ORDER BY id"
    )
    assert [r["message_id"] for r in rows] == [m.message_id for m in messages]
    assert [r["routing_key"] for r in rows] == [f"event.{n}" for n in range(5)]
    assert [json.loads(r["payload"])["n"] for r in rows] == list(range(5))
    assert [json.loads(r["headers"])["h"] for r in rows] == [str(n) for n in range(5)]
