"""Shipments fulfil orders once; poison messages park in the DLQ; the outbox outlives the broker."""

from __future__ import annotations

import datetime
import json
import socket
import uuid
from typing import Any

import aio_pika
import aiohttp
import asyncpg

from meridian.localplatform import platform
from meridian.services.kit import contracts
from meridian.services.kit.events import messaging
from tests.integration.services import pipeline
from tests.integration.services.orders.conftest import Pipeline
from tests.waiting import eventually, sample

HANDLED = "messages_handled_total"


def shipment(tenant: uuid.UUID, order: dict[str, Any]) -> contracts.ShipmentEvent:
    return contracts.ShipmentEvent(
        type="shipment.created",
        message_id=uuid.uuid4(),
        occurred_at=datetime.datetime.now(datetime.UTC),
        tenant_id=tenant,
        order_id=order["id"],
        shipment_id=uuid.uuid4(),
        carrier="local",
        tracking_number="T-1",
        label_key=f"labels/{order['id']}.pdf",
        allocations=order["allocations"],
    )


async def publish(amqp_url: str, event: contracts.ShipmentEvent | bytes, message_id: str) -> None:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await messaging.open_channel(connection)
        body = event if isinstance(event, bytes) else event.model_dump_json().encode()
        await messaging.Publisher(channel).publish(
            contracts.FULFILLMENT_EXCHANGE, "shipment.created", body, message_id=message_id
        )
    finally:
        await connection.close()


async def test_shipment_delivered_twice_fulfils_and_decrements_stock_once(
    services: Pipeline, local_platform: platform.PlatformState, suffix: str
) -> None:
    item = f"sku-{uuid.uuid4().hex[:8]}"
    await services.stock(item, 10)
    _, order = await services.order([{"sku": item, "quantity": 4}])
    event = shipment(services.tenant, order)
    amqp_url = local_platform.rabbitmq_info.amqp_url
    await publish(amqp_url, event, str(event.message_id))
    await publish(amqp_url, event, str(event.message_id))  # redelivery: same message id
    again = event.model_copy(update={"message_id": uuid.uuid4()})
    await publish(amqp_url, again, str(again.message_id))  # a second event for the same order
    url = f"{services.orders}/v1/orders/{order['id']}"

    async def fulfilled() -> bool:
        """the order is fulfilled"""
        async with services.http.get(url, headers=pipeline.caller(services.tenant)) as r:
            return bool((await r.json())["state"] == "fulfilled")

    async def shipped() -> bool:
        """the shipped units left on_hand and reserved"""
        stock = await services.available(item)
        return (stock["on_hand"], stock["reserved"]) == (6, 0)

    consumers = {
        services.orders: services.settings.shipments_queue,
        services.inventory: pipeline.inventory_config(local_platform, suffix).shipments_queue,
    }

    async def all_handled() -> bool:
        """orders and inventory each acked all three deliveries (a repeat is acked, not applied)"""
        for url, queue in consumers.items():
            acked = await sample(
                services.http, f"{url}/metrics", HANDLED, queue=queue, outcome="acked"
            )
            if acked < 3:
                return False
        return True

    await eventually(fulfilled, within=20, interval=0.1)
    await eventually(shipped, within=20, interval=0.1)
    await eventually(all_handled, within=20, interval=0.1)
    stock = await services.available(item)
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (6, 0, 6)


async def test_poison_message_lands_in_dlq_after_3_retries_and_queue_keeps_flowing(
    services: Pipeline, local_platform: platform.PlatformState
) -> None:
    amqp_url = local_platform.rabbitmq_info.amqp_url
    ghost = {
        "id": str(uuid.uuid4()),
        "allocations": [{"sku": "x", "warehouse": "w", "quantity": 1}],
    }
    poison = shipment(services.tenant, ghost)  # an order that never existed
    await publish(amqp_url, poison, "poison-1")
    item = f"sku-{uuid.uuid4().hex[:8]}"
    await services.stock(item, 3)
    _, order = await services.order([{"sku": item, "quantity": 1}])
    good = shipment(services.tenant, order)
    await publish(amqp_url, good, str(good.message_id))
    dlq = f"{services.settings.shipments_queue}.dlq"
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()

        async def parked() -> aio_pika.abc.AbstractIncomingMessage | None:
            """the poison message is in the DLQ"""
            queue = await channel.get_queue(dlq)
            return await queue.get(no_ack=True, fail=False)

        message = await eventually(parked, within=30, interval=0.2)
        assert message.message_id == "poison-1"
        assert message.headers["x-retry-count"] == 3
        assert "LookupError" in str(message.headers["x-last-error"])
    finally:
        await connection.close()
    async with services.http.get(
        f"{services.orders}/v1/orders/{order['id']}", headers=pipeline.caller(services.tenant)
    ) as response:
        assert (await response.json())["state"] == "fulfilled"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_orders_accepted_while_broker_is_dead_are_all_published_once_it_is_back(
    local_platform: platform.PlatformState, suffix: str
) -> None:
    amqp_url = local_platform.rabbitmq_info.amqp_url
    tenant = uuid.uuid4()
    connection = await aio_pika.connect(amqp_url)
    channel = await connection.channel()
    await messaging.declare_exchange(channel, contracts.ORDERS_EXCHANGE)
    watch = await channel.declare_queue(f"test.orders-watch.{suffix}", exclusive=True)
    await watch.bind(contracts.ORDERS_EXCHANGE, "order.*")
    item = f"sku-{uuid.uuid4().hex[:8]}"
    try:
        async with (
            pipeline.serving_inventory(pipeline.inventory_config(local_platform, suffix)) as inv,
            aiohttp.ClientSession() as http,
        ):
            dead = f"amqp://guest:guest@127.0.0.1:{closed_port()}/"
            down = pipeline.orders_config(local_platform, suffix, inv, relay_amqp_url=dead)
            async with pipeline.serving_orders(down) as orders:
                ids = await place_orders(http, inv, orders, tenant, item, count=10)
            # Stopped: what its relay could not send is in the outbox, and nothing was published.
            assert await outbox_of(local_platform, tenant) == {"unsent": 20, "total": 20}
            assert await watch.get(fail=False) is None
            up = pipeline.orders_config(local_platform, suffix, inv)
            async with pipeline.serving_orders(up):
                seen: list[tuple[str, str]] = []

                async def all_published() -> bool:
                    """order.created and order.confirmed of every order arrived"""
                    while (message := await watch.get(no_ack=True, fail=False)) is not None:
                        event = json.loads(message.body)
                        if event["tenant_id"] == str(tenant):
                            seen.append((event["order_id"], event["type"]))
                    return len(seen) >= 20

                async def relayed() -> bool:
                    """the relay marked every event of the tenant sent (each publish confirmed)"""
                    return (await outbox_of(local_platform, tenant))["unsent"] == 0

                await eventually(all_published, within=30, interval=0.2)
                await eventually(relayed, within=30, interval=0.2)
                await all_published()  # confirmed means queued: a duplicate is in the queue now
        expected = {(i, t) for i in ids for t in ("order.created", "order.confirmed")}
        assert sorted(seen) == sorted(expected)
    finally:
        await connection.close()


async def outbox_of(state: platform.PlatformState, tenant: uuid.UUID) -> dict[str, int]:
    """The tenant's events in the orders outbox: not yet sent, and in all."""
    connection = await asyncpg.connect(state.postgres_info.dsn("meridian_orders"))
    try:
        row = await connection.fetchrow(
            "SELECT count(*) FILTER (WHERE sent_at IS NULL) AS unsent, count(*) AS total"
            " FROM outbox WHERE payload->>'tenant_id' = $1",
            str(tenant),
        )
    finally:
        await connection.close()
    assert row is not None
    return dict(row)


async def place_orders(
    http: aiohttp.ClientSession,
    inventory: str,
    orders: str,
    tenant: uuid.UUID,
    item: str,
    *,
    count: int,
) -> list[str]:
    async with http.put(
        f"{inventory}/v1/inventory/stock/{item}",
        json={"warehouse": "wh-1", "on_hand": count},
        headers=pipeline.caller(tenant),
    ) as response:
        assert response.status == 200
    ids = []
    for _ in range(count):
        async with http.post(
            f"{orders}/v1/orders",
            json={"lines": [{"sku": item, "quantity": 1}]},
            headers=pipeline.caller(tenant),
        ) as response:
            assert response.status == 201
            ids.append((await response.json())["id"])
    return ids
