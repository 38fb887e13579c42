"""Creating orders end to end against a real inventory: confirmation, oversell, idempotency."""

from __future__ import annotations

import asyncio
import json
import uuid

import aio_pika

from meridian.localplatform import platform
from meridian.services.kit import contracts
from meridian.services.kit.events import messaging
from tests.integration.services import pipeline
from tests.integration.services.orders.conftest import Pipeline
from tests.waiting import eventually


def sku() -> str:
    return f"sku-{uuid.uuid4().hex[:8]}"


async def test_order_is_confirmed_with_allocations_and_stock_reserved(services: Pipeline) -> None:
    item = sku()
    await services.stock(item, 10, "wh-a")
    await services.stock(item, 4, "wh-b")
    status, order = await services.order([{"sku": item, "quantity": 3}])
    assert status == 201, order
    assert order["state"] == "confirmed"
    assert order["allocations"] == [{"sku": item, "warehouse": "wh-a", "quantity": 3}]
    stock = await services.available(item)
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (14, 3, 11)
    async with services.http.get(
        f"{services.orders}/v1/orders/{order['id']}", headers=pipeline.caller(services.tenant)
    ) as response:
        assert (await response.json())["state"] == "confirmed"


async def test_ship_to_is_kept_answered_and_carried_to_fulfillment_on_the_event(
    services: Pipeline, local_platform: platform.PlatformState, suffix: str
) -> None:
    address = {
        "name": "Ada Lovelace",
        "street1": "12 St James's Square",
        "city": "London",
        "postal_code": "SW1Y 4JH",
        "country": "GB",
    }
    connection = await aio_pika.connect(local_platform.rabbitmq_info.amqp_url)
    try:
        channel = await connection.channel()
        await messaging.declare_exchange(channel, contracts.ORDERS_EXCHANGE)
        watch = await channel.declare_queue(f"test.ship-to.{suffix}", exclusive=True)
        await watch.bind(contracts.ORDERS_EXCHANGE, "order.confirmed")
        item = sku()
        await services.stock(item, 5)
        async with services.http.post(
            f"{services.orders}/v1/orders",
            json={"lines": [{"sku": item, "quantity": 1}], "ship_to": address},
            headers=pipeline.caller(services.tenant),
        ) as response:
            assert response.status == 201, await response.text()
            order = await response.json()
        expected = {**address, "street2": "", "state": ""}
        assert order["ship_to"] == expected
        async with services.http.get(
            f"{services.orders}/v1/orders/{order['id']}", headers=pipeline.caller(services.tenant)
        ) as response:
            assert (await response.json())["ship_to"] == expected

        async def confirmed() -> dict[str, object] | None:
            """order.confirmed arrived for the order"""
            while (message := await watch.get(no_ack=True, fail=False)) is not None:
                event: dict[str, object] = json.loads(message.body)
                if event["order_id"] == order["id"]:
                    return event
            return None

        event = await eventually(confirmed, within=15, interval=0.2)
        assert event["ship_to"] == expected
    finally:
        await connection.close()


async def test_an_address_with_a_bad_country_is_422_naming_it(services: Pipeline) -> None:
    item = sku()
    await services.stock(item, 5)
    address = {"name": "A", "street1": "B", "city": "C", "postal_code": "D", "country": "Britain"}
    async with services.http.post(
        f"{services.orders}/v1/orders",
        json={"lines": [{"sku": item, "quantity": 1}], "ship_to": address},
        headers=pipeline.caller(services.tenant),
    ) as response:
        assert response.status == 422
        assert [e["field"] for e in (await response.json())["errors"]] == ["/ship_to/country"]


async def test_200_concurrent_orders_for_50_units_confirm_exactly_50(services: Pipeline) -> None:
    item = sku()
    await services.stock(item, 50)
    results = await asyncio.gather(
        *(services.order([{"sku": item, "quantity": 1}]) for _ in range(200))
    )
    statuses = sorted(status for status, _ in results)
    assert statuses.count(201) == 50, statuses
    assert statuses.count(409) == 150
    canceled = [body for status, body in results if status == 409]
    assert all(body["order"]["state"] == "canceled" for body in canceled)  # type: ignore[index]
    stock = await services.available(item)
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (50, 50, 0)
    async with services.http.get(
        f"{services.orders}/v1/orders?state=confirmed&limit=500",
        headers=pipeline.caller(services.tenant),
    ) as response:
        assert len((await response.json())["items"]) == 50


async def test_same_idempotency_key_20_times_concurrently_creates_one_order(
    services: Pipeline,
) -> None:
    item = sku()
    await services.stock(item, 100)
    results = await asyncio.gather(
        *(services.order([{"sku": item, "quantity": 2}], key="checkout-42") for _ in range(20))
    )
    assert {status for status, _ in results} == {201}
    assert len({body["id"] for _, body in results}) == 1
    async with services.http.get(
        f"{services.orders}/v1/orders?limit=500", headers=pipeline.caller(services.tenant)
    ) as response:
        assert len((await response.json())["items"]) == 1
    assert (await services.available(item))["reserved"] == 2


async def test_same_idempotency_key_with_another_body_is_422(services: Pipeline) -> None:
    item = sku()
    await services.stock(item, 10)
    first, _ = await services.order([{"sku": item, "quantity": 1}], key="k-1")
    again, problem = await services.order([{"sku": item, "quantity": 2}], key="k-1")
    assert (first, again) == (201, 422)
    assert "Idempotency-Key" in str(problem["detail"])


async def test_cancel_releases_stock_and_second_cancel_is_illegal(services: Pipeline) -> None:
    item = sku()
    await services.stock(item, 5)
    _, order = await services.order([{"sku": item, "quantity": 5}])
    url = f"{services.orders}/v1/orders/{order['id']}/cancel"
    headers = pipeline.caller(services.tenant)
    async with services.http.post(url, headers=headers) as response:
        assert response.status == 200
        assert (await response.json())["state"] == "canceled"
    assert (await services.available(item))["available"] == 5
    async with services.http.post(url, headers=headers) as response:
        assert response.status == 409
        problem = await response.json(content_type=None)
    assert response.content_type == "application/problem+json"
    assert problem["type"].endswith("/illegal-transition")
    assert problem["state"] == "canceled"
