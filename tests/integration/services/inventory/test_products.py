"""Inventory's product catalogue: upsert (one and bulk), get, list, delete, versions, events, RLS."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika
import asyncpg
import pytest_asyncio
from aio_pika import abc as pika_abc

from meridian.localplatform import platform
from meridian.services.kit import contracts
from meridian.services.kit.events import messaging
from tests.integration.services.inventory.test_inventory import Inventory, inventory, sku
from tests.waiting import eventually

__all__ = ["inventory"]


def product(code: str, **fields: Any) -> dict[str, Any]:
    return {
        "sku": code,
        "name": "Silnylon tarp 3x3",
        "description": "A light tarp",
        "brand": "Acme",
        "category": "shelter/tarps",
        "price": {"amount": "89.00", "currency": "USD"},
        "attributes": {"colour": "green", "weight_g": 450},
        **fields,
    }


class Watch:
    """A queue bound to `product.*` on `inventory.events`: what the relay published."""

    def __init__(self, queue: pika_abc.AbstractQueue, tenant: uuid.UUID) -> None:
        self.queue = queue
        self.tenant = tenant
        self.seen: list[dict[str, Any]] = []

    async def until(self, count: int) -> list[dict[str, Any]]:
        async def enough() -> bool:
            """the relay published the tenant's product events"""
            while (message := await self.queue.get(no_ack=True, fail=False)) is not None:
                event = json.loads(message.body)
                if event["tenant_id"] == str(self.tenant):
                    self.seen.append(event)
            return len(self.seen) >= count

        await eventually(enough, within=20, interval=0.1)
        return self.seen


@pytest_asyncio.fixture
async def watch(
    local_platform: platform.PlatformState, inventory: Inventory, suffix: str
) -> AsyncIterator[Watch]:
    connection = await aio_pika.connect(local_platform.rabbitmq_info.amqp_url)
    channel = await connection.channel()
    await messaging.declare_exchange(channel, contracts.INVENTORY_EXCHANGE)
    queue = await channel.declare_queue(f"test.products-watch.{suffix}", exclusive=True)
    await queue.bind(contracts.INVENTORY_EXCHANGE, "product.*")
    try:
        yield Watch(queue, inventory.tenant)
    finally:
        await connection.close()


async def test_create_then_change_bumps_the_version_and_announces_each(
    inventory: Inventory, watch: Watch
) -> None:
    code = sku()
    status, created = await inventory.call("POST", "/v1/inventory/products", product(code))
    assert status == 201
    assert (created["version"], created["price"]) == (1, {"amount": "89.00", "currency": "USD"})
    status, same = await inventory.call("POST", "/v1/inventory/products", product(code))
    assert (status, same["version"]) == (200, 1)  # equal: no new version, no event
    changed = product(code, price={"amount": "79.50", "currency": "USD"})
    status, second = await inventory.call("POST", "/v1/inventory/products", changed)
    assert (status, second["version"]) == (200, 2)
    events = await watch.until(2)
    assert [(e["type"], e["version"]) for e in events] == [
        ("product.upserted", 1),
        ("product.upserted", 2),
    ]
    assert events[1]["product"]["price"] == {"amount": "79.50", "currency": "USD"}
    # Relayed in commit order: had the equal upsert been announced, it would be the second.
    assert events[1]["product"]["attributes"] == {"colour": "green", "weight_g": 450}


async def test_bulk_upsert_get_list_and_delete(inventory: Inventory, watch: Watch) -> None:
    codes = sorted(sku() for _ in range(5))
    body = {"products": [product(code, name=f"Tarp {code}") for code in codes]}
    status, result = await inventory.call("POST", "/v1/inventory/products", body)
    assert status == 200
    assert result["changed"] == 5
    assert [item["sku"] for item in result["items"]] == codes
    status, one = await inventory.call("GET", f"/v1/inventory/products/{codes[2]}")
    assert (status, one["name"], one["category"]) == (200, f"Tarp {codes[2]}", "shelter/tarps")
    status, first = await inventory.call("GET", "/v1/inventory/products?limit=3")
    assert [item["sku"] for item in first["items"]] == codes[:3]
    _, rest = await inventory.call("GET", f"/v1/inventory/products?after={first['next_after']}")
    assert [item["sku"] for item in rest["items"]] == codes[3:]
    assert rest["next_after"] is None
    assert (await inventory.call("DELETE", f"/v1/inventory/products/{codes[0]}"))[0] == 204
    assert (await inventory.call("DELETE", f"/v1/inventory/products/{codes[0]}"))[0] == 404
    assert (await inventory.call("GET", f"/v1/inventory/products/{codes[0]}"))[0] == 404
    events = await watch.until(6)
    assert events[-1] == {**events[-1], "type": "product.deleted", "sku": codes[0], "version": 2}


async def test_recreated_product_continues_its_versions(inventory: Inventory) -> None:
    """A tombstone keeps the version, so search can never prefer the pre-deletion document."""
    code = sku()
    await inventory.call("POST", "/v1/inventory/products", product(code))
    await inventory.call("DELETE", f"/v1/inventory/products/{code}")
    status, again = await inventory.call("POST", "/v1/inventory/products", product(code))
    assert (status, again["version"]) == (201, 3)


async def test_bad_products_are_422_naming_the_field(inventory: Inventory) -> None:
    code = sku()
    cases = [
        (product(code, price={"amount": "1.999", "currency": "USD"}), "/price/amount"),
        (product(code, price={"amount": "1.00", "currency": "usd"}), "/price/currency"),
        (product(code, category="Shelter/Tarps"), "/category"),
        (product(code, attributes={"Colour": "green"}), "/attributes/Colour/[key]"),
        (product(code, unknown=1), "/unknown"),
        ({"products": [product(code), product(code)]}, "/products/1/sku"),
        ({"products": [product(code, name="")]}, "/products/0/name"),
    ]
    for body, field in cases:
        status, problem = await inventory.call("POST", "/v1/inventory/products", body)
        assert status == 422, body
        assert field in [error["field"] for error in problem["errors"]], (field, problem)
    assert (await inventory.call("GET", f"/v1/inventory/products/{code}"))[0] == 404


async def test_other_tenants_see_no_products(
    inventory: Inventory, local_platform: platform.PlatformState
) -> None:
    code = sku()
    await inventory.call("POST", "/v1/inventory/products", product(code))
    other = uuid.uuid4()
    assert (await inventory.call("GET", f"/v1/inventory/products/{code}", tenant=other))[0] == 404
    assert (await inventory.call("DELETE", f"/v1/inventory/products/{code}", tenant=other))[
        0
    ] == 404
    _, page = await inventory.call("GET", "/v1/inventory/products", tenant=other)
    assert page["items"] == []
    # The same SKU is another tenant's own product, with its own versions.
    status, theirs = await inventory.call("POST", "/v1/inventory/products", product(code), other)
    assert (status, theirs["version"]) == (201, 1)
    # RLS, not the handler's WHERE clause: the application role sees no row without a tenant.
    connection = await asyncpg.connect(local_platform.postgres_info.dsn("meridian_inventory"))
    try:
        async with connection.transaction():
            await connection.execute("SET LOCAL ROLE meridian_inventory_app")
            assert await connection.fetchval("SELECT count(*) FROM products") == 0
    finally:
        await connection.close()
