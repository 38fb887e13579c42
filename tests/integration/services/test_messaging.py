"""Confirmed publishing, retries through the retry queue, and dead letters on a real RabbitMQ 3.10."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator

import aiohttp
import prometheus_client
import pytest
import pytest_asyncio
from aio_pika import abc as pika_abc

from meridian.core.runtime import tracing
from meridian.localplatform import platform, rabbitmq_server
from meridian.services.kit import metrics
from meridian.services.kit.events import consumer, messaging
from tests.integration.services.conftest import delete_queues
from tests.waiting import eventually


@pytest.fixture
def topology(suffix: str) -> messaging.Topology:
    return messaging.Topology(
        exchange=f"test-{suffix}.events",
        queue=f"test{suffix}.work",
        routing_keys=("order.*",),
        retry_delay_s=0.1,
    )


@pytest_asyncio.fixture
async def channel(
    amqp: pika_abc.AbstractRobustConnection, topology: messaging.Topology
) -> AsyncIterator[pika_abc.AbstractChannel]:
    channel = await messaging.open_channel(amqp)
    yield channel
    await channel.close()
    await delete_queues(
        amqp, topology.queue, topology.retry_queue, topology.dlq, exchange=topology.exchange
    )


async def dead_letters(
    channel: pika_abc.AbstractChannel, topology: messaging.Topology, count: int
) -> list[pika_abc.AbstractIncomingMessage]:
    queue = await channel.declare_queue(topology.dlq, passive=True)
    found: list[pika_abc.AbstractIncomingMessage] = []

    async def collected() -> bool:
        """the DLQ received the expected messages"""
        message = await queue.get(fail=False)
        if message is not None:
            await message.ack()
            found.append(message)
        return len(found) >= count

    await eventually(collected, within=20, interval=0.05)
    return found


async def test_declared_queues_are_quorum_queues(
    channel: pika_abc.AbstractChannel,
    topology: messaging.Topology,
    local_platform: platform.PlatformState,
) -> None:
    await topology.declare(channel)
    info = local_platform.rabbitmq_info
    auth = aiohttp.encode_basic_auth(rabbitmq_server.USER, info.password)
    async with aiohttp.ClientSession(headers={"Authorization": auth}) as session:
        for name in (topology.queue, topology.retry_queue, topology.dlq):
            async with session.get(f"{info.management_url}/api/queues/%2F/{name}") as response:
                assert response.status == 200
                queue = await response.json()
            assert queue["type"] == "quorum"
            assert queue["durable"] is True
    assert queue["name"] == topology.dlq


async def test_unroutable_message_is_not_confirmed(
    channel: pika_abc.AbstractChannel, topology: messaging.Topology
) -> None:
    await topology.declare(channel)
    publisher = messaging.Publisher(channel)
    await publisher.publish(topology.exchange, "order.created", b"{}")
    with pytest.raises(messaging.NotConfirmed, match="NO_ROUTE"):
        await publisher.publish(topology.exchange, "invoice.created", b"{}")


async def test_poison_message_is_dead_lettered_after_three_retries_without_blocking(
    channel: pika_abc.AbstractChannel, topology: messaging.Topology
) -> None:
    attempts: collections.Counter[str] = collections.Counter()
    timeline: list[str] = []

    async def handle(delivery: consumer.Delivery) -> None:
        attempts[delivery.message_id] += 1
        timeline.append(delivery.message_id)
        assert delivery.routing_key == "order.created"
        if delivery.body == b"poison":
            raise ValueError("cannot parse order")

    meters = metrics.create(prometheus_client.CollectorRegistry())
    worker = consumer.Consumer(channel, topology, handle, prefetch=4, meters=meters)
    await worker.start()
    publisher = messaging.Publisher(channel)
    await publisher.publish(topology.exchange, "order.created", b"poison", message_id="poison")
    for n in range(5):
        await publisher.publish(topology.exchange, "order.created", b"ok", message_id=f"good-{n}")
    (dead,) = await dead_letters(channel, topology, 1)
    await worker.stop()
    assert dead.message_id == "poison"
    assert dead.body == b"poison"
    assert dead.headers[consumer.RETRY_COUNT_HEADER] == 3
    assert dead.headers[consumer.ERROR_HEADER] == "ValueError: cannot parse order"
    assert attempts["poison"] == 4  # the first delivery and exactly three retries
    assert all(attempts[f"good-{n}"] == 1 for n in range(5))
    # Every good message was handled before the poison message's first retry came back.
    assert timeline.index("good-4") < [i for i, m in enumerate(timeline) if m == "poison"][1]
    # What an alert on the DLQ would read.
    handled = {
        outcome: meters.registry.get_sample_value(
            "messages_handled_total", {"queue": topology.queue, "outcome": outcome}
        )
        for outcome in ("acked", "retried", "dead_lettered")
    }
    assert handled == {"acked": 5, "retried": 3, "dead_lettered": 1}


async def test_permanent_failure_skips_the_retries(
    channel: pika_abc.AbstractChannel, topology: messaging.Topology
) -> None:
    attempts: collections.Counter[str] = collections.Counter()

    async def handle(delivery: consumer.Delivery) -> None:
        attempts[delivery.message_id] += 1
        raise consumer.Permanent("unknown tenant")

    worker = consumer.Consumer(channel, topology, handle)
    await worker.start()
    await messaging.Publisher(channel).publish(
        topology.exchange, "order.paid", b"{}", message_id="m"
    )
    (dead,) = await dead_letters(channel, topology, 1)
    await worker.stop()
    assert attempts["m"] == 1
    assert dead.headers[consumer.RETRY_COUNT_HEADER] == 0
    assert dead.headers[consumer.ROUTING_KEY_HEADER] == "order.paid"


async def test_trace_continues_from_publisher_to_handler(
    channel: pika_abc.AbstractChannel, topology: messaging.Topology
) -> None:
    provider = tracing.create_provider("kit-test")
    tracer = provider.get_tracer("test")
    seen: asyncio.Future[str | None] = asyncio.get_running_loop().create_future()

    async def handle(_delivery: consumer.Delivery) -> None:
        seen.set_result(tracing.trace_id())

    worker = consumer.Consumer(channel, topology, handle, tracer=tracer)
    await worker.start()
    with tracer.start_as_current_span("place order"):
        published_trace = tracing.trace_id()
        await messaging.Publisher(channel).publish(topology.exchange, "order.created", b"{}")
    assert await asyncio.wait_for(seen, 10) == published_trace
    await worker.stop()
    provider.shutdown()


async def test_stop_waits_for_in_flight_handlers(
    channel: pika_abc.AbstractChannel, topology: messaging.Topology
) -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def handle(_delivery: consumer.Delivery) -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.set()

    worker = consumer.Consumer(channel, topology, handle)
    await worker.start()
    await messaging.Publisher(channel).publish(topology.exchange, "order.created", b"{}")
    await asyncio.wait_for(started.wait(), 10)
    await worker.stop()
    assert finished.is_set()
    queue = await channel.declare_queue(topology.queue, passive=True)
    assert queue.declaration_result.message_count == 0  # acked, not requeued
