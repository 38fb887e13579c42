"""From order.confirmed to shipment: carrier, label in S3, row, event; retries; exactly once."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import asyncpg
from aio_pika import abc as pika_abc
from aiohttp.test_utils import TestServer
from mypy_boto3_s3 import S3Client

from meridian.services.fulfillment import consumers
from meridian.services.fulfillment.settings import Settings as FulfillmentSettings
from meridian.services.kit.events import consumer
from tests.integration.services.fulfillment.conftest import (
    Client,
    Events,
    carrier_state,
    dead_letters,
    label_text,
    order_confirmed,
    shipments_of,
)


async def test_confirmed_order_ships_with_its_label_in_s3_and_a_shipment_event(
    service: Client,
    publish: Callable[..., Any],
    events: Events,
    s3: S3Client,
    fulfillment_dsn: str,
) -> None:
    order = order_confirmed(("sku-1", "wh-1", 2), ("sku-2", "wh-1", 1))
    await publish(order)
    (event,) = await events.take(1)
    (shipment,) = await shipments_of(service, order.tenant_id, order.order_id)
    assert event.tenant_id == order.tenant_id
    assert event.order_id == order.order_id
    assert str(event.shipment_id) == shipment["id"]
    assert event.tracking_number == shipment["tracking_number"]
    assert event.carrier == shipment["carrier"] == "MeridianPost"
    assert event.allocations == order.allocations
    assert (
        event.label_key
        == shipment["label_key"]
        == (f"labels/{order.tenant_id}/{order.order_id}/{shipment['id']}.pdf")
    )
    text = label_text(s3, event.label_key)
    assert event.tracking_number in text
    assert "Meridian Demo Customer" in text  # the default destination: no ship_to on the event
    assert "Meridian Fulfillment wh-1" in text
    connection = await asyncpg.connect(fulfillment_dsn)
    try:
        row = await connection.fetchrow(
            "SELECT tenant_id, warehouse, rate_amount FROM shipments WHERE order_id = $1",
            order.order_id,
        )
    finally:
        await connection.close()
    assert row is not None
    assert (row["tenant_id"], row["warehouse"]) == (order.tenant_id, "wh-1")
    assert str(row["rate_amount"]) == shipment["rate_amount"] == "7.45"


async def test_order_from_two_warehouses_ships_twice(
    service: Client, publish: Callable[..., Any], events: Events, s3: S3Client
) -> None:
    order = order_confirmed(("a", "wh-east", 1), ("b", "wh-west", 3), ("c", "wh-east", 2))
    await publish(order)
    taken = await events.take(2)
    shipments = await shipments_of(service, order.tenant_id, order.order_id)
    assert sorted(s["warehouse"] for s in shipments) == ["wh-east", "wh-west"]
    by_warehouse = {e.allocations[0].warehouse: e for e in taken}
    assert [a.sku for a in by_warehouse["wh-east"].allocations] == ["a", "c"]
    assert [a.sku for a in by_warehouse["wh-west"].allocations] == ["b"]
    assert len({e.label_key for e in taken}) == 2
    for event in taken:
        assert event.tracking_number in label_text(s3, event.label_key)


async def test_carrier_failing_twice_is_retried_into_one_shipment(
    service: Client,
    publish: Callable[..., Any],
    events: Events,
    carrier_server: TestServer,
) -> None:
    response = await service.session.post(
        carrier_server.make_url("/_faults"), json={"fail_next": 2, "status": 503}
    )
    assert response.status == 200
    order = order_confirmed(("sku-1", "wh-1", 1))
    await publish(order)
    (event,) = await events.take(1)
    state = carrier_state(carrier_server)
    assert state.failed == 2
    assert state.calls["POST /v1/shipments"] == 3
    assert len(state.shipments) == 1
    (carrier_shipment,) = state.shipments.values()
    assert event.tracking_number == carrier_shipment["tracking_number"]
    assert len(await shipments_of(service, order.tenant_id, order.order_id)) == 1
    assert await events.none_left()


async def test_redelivered_order_event_ships_once(
    running: Callable[..., Any],
    settings: FulfillmentSettings,
    publish: Callable[..., Any],
    events: Events,
    carrier_server: TestServer,
) -> None:
    order = order_confirmed(("sku-1", "wh-1", 1))
    sentinel = order_confirmed(("sku-9", "wh-1", 1))
    # One message at a time: when the sentinel has shipped, both deliveries before it are done.
    async with running(settings.model_copy(update={"amqp_prefetch": 1})) as client:
        for event in (order, order, sentinel):
            await publish(event)
        taken = await events.take(2)
        assert [e.order_id for e in taken] == [order.order_id, sentinel.order_id]
        assert len(await shipments_of(client, order.tenant_id, order.order_id)) == 1
        assert await events.none_left()
    assert len(carrier_state(carrier_server).shipments) == 2


async def test_concurrent_deliveries_of_one_event_write_one_shipment_and_one_event(
    service: Client, events: Events, fulfillment_dsn: str
) -> None:
    order = order_confirmed(("sku-1", "wh-1", 1), ("sku-2", "wh-2", 1))
    delivery = consumer.Delivery(
        message_id=str(order.message_id),
        routing_key="order.confirmed",
        body=order.model_dump_json().encode(),
        headers={},
        retry_count=0,
    )
    fulfiller = service.app[consumers.FULFILLER]
    await asyncio.gather(*(fulfiller.handle(delivery) for _ in range(4)))
    taken = await events.take(2)
    assert {e.order_id for e in taken} == {order.order_id}
    assert await events.none_left()
    connection = await asyncpg.connect(fulfillment_dsn)
    try:
        shipments = await connection.fetchval(
            "SELECT count(*) FROM shipments WHERE order_id = $1", order.order_id
        )
        announced = await connection.fetchval(
            "SELECT count(*) FROM outbox WHERE payload->>'order_id' = $1", str(order.order_id)
        )
    finally:
        await connection.close()
    assert (shipments, announced) == (2, 2)


async def test_poison_message_is_dead_lettered_after_three_retries_without_blocking(
    running: Callable[..., Any],
    settings: FulfillmentSettings,
    publish: Callable[..., Any],
    events: Events,
    carrier_server: TestServer,
    amqp: pika_abc.AbstractRobustConnection,
    suffix: str,
) -> None:
    poisoned_warehouse = f"WH-POISON-{suffix}"
    state = carrier_state(carrier_server)
    state.faults = state.faults.model_copy(
        update={"fail_next": 1_000, "status": 500, "match": poisoned_warehouse}
    )
    poison = order_confirmed(("sku-1", poisoned_warehouse, 1))
    good = order_confirmed(("sku-1", "wh-1", 1))
    async with running(settings.model_copy(update={"carrier_attempts": 2})) as client:
        await publish(poison)
        await publish(good)
        (event,) = await events.take(1)
        assert event.order_id == good.order_id
        (dead,) = await dead_letters(amqp, consumers.orders_topology(settings).dlq, 1)
        assert await shipments_of(client, poison.tenant_id, poison.order_id) == []
    assert dead.message_id == str(poison.message_id)
    assert dead.headers[consumer.RETRY_COUNT_HEADER] == 3
    assert "CarrierUnavailable" in str(dead.headers[consumer.ERROR_HEADER])
    assert json.loads(dead.body)["order_id"] == str(poison.order_id)
    assert state.failed == 4 * 2  # four deliveries, two carrier attempts each


async def test_invalid_order_event_is_dead_lettered_at_once(
    service: Client,
    publish: Callable[..., Any],
    events: Events,
    settings: FulfillmentSettings,
    amqp: pika_abc.AbstractRobustConnection,
) -> None:
    await publish(b'{"type": "order.confirmed", "order_id": "nope"}')
    good = order_confirmed(("sku-1", "wh-1", 1))
    await publish(good)
    (dead,) = await dead_letters(amqp, consumers.orders_topology(settings).dlq, 1)
    assert dead.headers[consumer.RETRY_COUNT_HEADER] == 0
    assert str(dead.headers[consumer.ERROR_HEADER]).startswith("Permanent: Invalid order event")
    (event,) = await events.take(1)
    assert event.order_id == good.order_id


async def test_confirmed_order_without_allocations_is_dead_lettered_at_once(
    service: Client,
    publish: Callable[..., Any],
    settings: FulfillmentSettings,
    amqp: pika_abc.AbstractRobustConnection,
) -> None:
    order = order_confirmed(("sku-1", "wh-1", 1)).model_copy(update={"allocations": []})
    await publish(order)
    (dead,) = await dead_letters(amqp, consumers.orders_topology(settings).dlq, 1)
    assert dead.headers[consumer.RETRY_COUNT_HEADER] == 0
    assert "without allocations" in str(dead.headers[consumer.ERROR_HEADER])
