"""Idempotent consumers over real RabbitMQ + PostgreSQL, and HTTP Idempotency-Key storage."""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aio_pika import abc as pika_abc

from meridian.core.runtime import db, problems
from meridian.services.kit.events import consumer, messaging
from meridian.services.kit.storage import idempotency
from meridian.services.kit.storage import schema as kit_schema
from tests.integration.services.conftest import delete_queues
from tests.waiting import eventually

TENANT = uuid.UUID("cccccccc-0000-4000-8000-000000000003")


@pytest_asyncio.fixture
async def idem_pool(pool: db.Pool) -> db.Pool:
    await pool.execute(
        ";".join((*kit_schema.IDEMPOTENCY_V1, "CREATE TABLE effects (message_id text, n serial)"))
    )
    return pool


@pytest_asyncio.fixture
async def channel(
    amqp: pika_abc.AbstractRobustConnection, suffix: str
) -> AsyncIterator[tuple[pika_abc.AbstractChannel, messaging.Topology]]:
    topology = messaging.Topology(
        exchange=f"test-{suffix}.events",
        queue=f"test{suffix}.dedupe",
        routing_keys=("#",),
        retry_delay_s=0.05,
    )
    channel = await messaging.open_channel(amqp)
    yield channel, topology
    await channel.close()
    await delete_queues(
        amqp, topology.queue, topology.retry_queue, topology.dlq, exchange=topology.exchange
    )


async def test_redelivered_message_has_its_effect_once(
    idem_pool: db.Pool, channel: tuple[pika_abc.AbstractChannel, messaging.Topology]
) -> None:
    """The first attempt fails after recording the id: its rollback must forget the id too."""
    amqp_channel, topology = channel
    handled: list[str] = []

    async def handle(delivery: consumer.Delivery) -> None:
        async with idem_pool.acquire() as connection, connection.transaction():
            first = await idempotency.first_time(connection, "orders.dedupe", delivery.message_id)
            handled.append(f"{delivery.message_id}:{first}:{delivery.retry_count}")
            if first:
                await connection.execute("INSERT INTO effects VALUES ($1)", delivery.message_id)
            if delivery.retry_count == 0 and delivery.body == b"flaky":
                raise ConnectionError("downstream hiccup")

    worker = consumer.Consumer(amqp_channel, topology, handle, prefetch=1)
    await worker.start()
    publisher = messaging.Publisher(amqp_channel)
    await publisher.publish(topology.exchange, "order.created", b"flaky", message_id="m1")
    await publisher.publish(topology.exchange, "order.created", b"{}", message_id="m2")
    await publisher.publish(topology.exchange, "order.created", b"{}", message_id="m2")

    async def all_handled() -> bool:
        """m1 (failed once, then retried) and both copies of m2 were handled"""
        return len(handled) == 4

    await eventually(all_handled, within=20, interval=0.05)
    await worker.stop()
    assert sorted(handled) == ["m1:True:0", "m1:True:1", "m2:False:0", "m2:True:0"]
    rows = await idem_pool.fetch("SELECT message_id FROM effects ORDER BY message_id")
    assert [r["message_id"] for r in rows] == ["m1", "m2"]


async def test_concurrent_duplicates_only_one_is_first(idem_pool: db.Pool) -> None:
    async def attempt() -> bool:
        async with idem_pool.acquire() as connection, connection.transaction():
            first = await idempotency.first_time(connection, "c", "same-id")
            await asyncio.sleep(0.1)  # hold the row lock while the twin waits on it
            return first

    assert sorted(await asyncio.gather(attempt(), attempt(), attempt())) == [False, False, True]


async def test_idempotency_key_reused_for_another_request_is_refused(idem_pool: db.Pool) -> None:
    async with idem_pool.acquire() as connection, connection.transaction():
        await idempotency.claim(
            connection,
            tenant_id=TENANT,
            key="k2",
            fingerprint="a" * 64,
            response=idempotency.StoredResponse(201, "application/json", b"{}"),
        )
    async with idem_pool.acquire() as connection:
        with pytest.raises(problems.ValidationProblem):
            await idempotency.claim(connection, tenant_id=TENANT, key="k2", fingerprint="b" * 64)


async def test_idempotency_key_in_progress_is_a_conflict(idem_pool: db.Pool) -> None:
    async with idem_pool.acquire() as connection:
        await idempotency.claim(connection, tenant_id=TENANT, key="k3", fingerprint="f")
        with pytest.raises(problems.Conflict):
            await idempotency.claim(connection, tenant_id=TENANT, key="k3", fingerprint="f")


async def test_expired_idempotency_key_can_be_claimed_again(idem_pool: db.Pool) -> None:
    async with idem_pool.acquire() as connection:
        await idempotency.claim(
            connection,
            tenant_id=TENANT,
            key="k4",
            fingerprint="old",
            ttl=datetime.timedelta(0),
        )
        assert (
            await idempotency.claim(connection, tenant_id=TENANT, key="k4", fingerprint="new")
            is None
        )


async def test_a_response_known_up_front_is_stored_with_the_claim(idem_pool: db.Pool) -> None:
    stored = idempotency.StoredResponse(201, "text/plain", b"order-1")
    async with idem_pool.acquire() as connection, connection.transaction():
        claimed = await idempotency.claim(
            connection, tenant_id=TENANT, key="k5", fingerprint="f", response=stored
        )
        assert claimed is None
    async with idem_pool.acquire() as connection:
        replay = await idempotency.claim(connection, tenant_id=TENANT, key="k5", fingerprint="f")
    assert replay == stored


async def test_a_claim_rolled_back_with_its_work_leaves_the_key_free(idem_pool: db.Pool) -> None:
    stored = idempotency.StoredResponse(201, "text/plain", b"order-2")

    async def claim_then_fail() -> None:
        async with idem_pool.acquire() as connection, connection.transaction():
            await idempotency.claim(
                connection, tenant_id=TENANT, key="k6", fingerprint="f", response=stored
            )
            raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        await claim_then_fail()
    async with idem_pool.acquire() as connection:
        assert (
            await idempotency.claim(connection, tenant_id=TENANT, key="k6", fingerprint="f") is None
        )


async def test_concurrent_twins_wait_for_the_first_and_replay_it(idem_pool: db.Pool) -> None:
    async def attempt(n: int) -> idempotency.StoredResponse | None:
        answer = idempotency.StoredResponse(201, "text/plain", f"order-{n}".encode())
        async with idem_pool.acquire() as connection, connection.transaction():
            replay = await idempotency.claim(
                connection, tenant_id=TENANT, key="k7", fingerprint="f", response=answer
            )
            await asyncio.sleep(0.1)  # hold the key's row while the twins wait on it
            return replay

    outcomes = await asyncio.gather(*(attempt(n) for n in range(5)))
    firsts = [n for n, outcome in enumerate(outcomes) if outcome is None]
    assert len(firsts) == 1
    winner = idempotency.StoredResponse(201, "text/plain", f"order-{firsts[0]}".encode())
    assert [o for o in outcomes if o is not None] == [winner] * 4
