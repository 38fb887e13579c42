"""Inventory's API: stock, reservations all-or-nothing and idempotent, release, the cache."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest_asyncio
import redis.asyncio as aioredis

from meridian.localplatform import platform
from meridian.services.inventory import openapi as inventory_openapi
from meridian.services.inventory import stockcache
from tests.integration.services import pipeline


class Inventory:
    def __init__(self, url: str, http: aiohttp.ClientSession) -> None:
        self.url = url
        self.http = http
        self.tenant = uuid.uuid4()

    async def call(
        self, method: str, path: str, body: Any = None, tenant: uuid.UUID | None = None
    ) -> tuple[int, Any]:
        headers = pipeline.caller(tenant or self.tenant)
        async with self.http.request(method, self.url + path, json=body, headers=headers) as r:
            return r.status, await r.json(content_type=None) if r.status != 204 else None


@pytest_asyncio.fixture
async def inventory(
    local_platform: platform.PlatformState, suffix: str
) -> AsyncIterator[Inventory]:
    settings = pipeline.inventory_config(local_platform, suffix)
    async with pipeline.serving_inventory(settings) as url, aiohttp.ClientSession() as http:
        yield Inventory(url, http)


def sku() -> str:
    return f"sku-{uuid.uuid4().hex[:8]}"


async def test_reservation_is_all_or_nothing_and_names_the_short_sku(inventory: Inventory) -> None:
    plenty, scarce = sku(), sku()
    await inventory.call("PUT", f"/v1/inventory/stock/{plenty}", {"warehouse": "w1", "on_hand": 10})
    await inventory.call("PUT", f"/v1/inventory/stock/{scarce}", {"warehouse": "w1", "on_hand": 1})
    request = {
        "order_id": str(uuid.uuid4()),
        "lines": [{"sku": plenty, "quantity": 5}, {"sku": scarce, "quantity": 2}],
    }
    status, problem = await inventory.call("POST", "/v1/inventory/reservations", request)
    assert status == 409
    assert problem["type"].endswith("/insufficient-stock")
    assert (problem["sku"], problem["requested"], problem["available"]) == (scarce, 2, 1)
    _, stock = await inventory.call("GET", f"/v1/inventory/stock/{plenty}")
    assert stock["reserved"] == 0


async def test_reservation_is_idempotent_per_order_and_release_gives_stock_back(
    inventory: Inventory,
) -> None:
    item = sku()
    await inventory.call("PUT", f"/v1/inventory/stock/{item}", {"warehouse": "small", "on_hand": 3})
    await inventory.call("PUT", f"/v1/inventory/stock/{item}", {"warehouse": "big", "on_hand": 8})
    order_id = str(uuid.uuid4())
    request = {"order_id": order_id, "lines": [{"sku": item, "quantity": 2}]}
    answers = await asyncio.gather(
        *(inventory.call("POST", "/v1/inventory/reservations", request) for _ in range(5))
    )
    assert sorted(status for status, _ in answers) == [200, 200, 200, 200, 201]
    assert all(
        body["allocations"] == [{"sku": item, "warehouse": "big", "quantity": 2}]
        for _, body in answers
    )
    _, stock = await inventory.call("GET", f"/v1/inventory/stock/{item}")
    assert (stock["on_hand"], stock["reserved"], stock["available"]) == (11, 2, 9)
    for _ in range(2):
        status, _ = await inventory.call("DELETE", f"/v1/inventory/reservations/{order_id}")
        assert status == 204
    _, stock = await inventory.call("GET", f"/v1/inventory/stock/{item}")
    assert stock["reserved"] == 0
    status, problem = await inventory.call("POST", "/v1/inventory/reservations", request)
    assert status == 409
    assert problem["type"].endswith("/reservation-released")


async def test_unknown_sku_is_422_naming_the_line(inventory: Inventory) -> None:
    request = {"order_id": str(uuid.uuid4()), "lines": [{"sku": "nowhere", "quantity": 1}]}
    status, problem = await inventory.call("POST", "/v1/inventory/reservations", request)
    assert status == 422
    assert problem["errors"][0]["field"] == "/lines/0/sku"


async def test_on_hand_below_reserved_is_refused(inventory: Inventory) -> None:
    item = sku()
    await inventory.call("PUT", f"/v1/inventory/stock/{item}", {"warehouse": "w1", "on_hand": 5})
    request = {"order_id": str(uuid.uuid4()), "lines": [{"sku": item, "quantity": 4}]}
    assert (await inventory.call("POST", "/v1/inventory/reservations", request))[0] == 201
    status, problem = await inventory.call(
        "PUT", f"/v1/inventory/stock/{item}", {"warehouse": "w1", "on_hand": 3}
    )
    assert status == 409
    assert problem["field"] == "/on_hand"
    status, problem = await inventory.call(
        "PUT", f"/v1/inventory/stock/{item}", {"warehouse": "w1", "on_hand": -3}
    )
    assert status == 422
    assert problem["errors"][0]["field"] == "/on_hand"


async def test_cache_holds_what_the_last_write_committed(
    inventory: Inventory, local_platform: platform.PlatformState
) -> None:
    item = sku()
    await inventory.call("PUT", f"/v1/inventory/stock/{item}", {"warehouse": "w1", "on_hand": 7})
    request = {"order_id": str(uuid.uuid4()), "lines": [{"sku": item, "quantity": 3}]}
    await inventory.call("POST", "/v1/inventory/reservations", request)
    client = aioredis.Redis.from_url(local_platform.redis_url)
    try:
        cached = await client.hget(stockcache.key(inventory.tenant, item), "body")
    finally:
        await client.aclose()
    assert cached is not None
    assert b'"reserved":3' in cached
    assert b'"available":4' in cached


async def test_other_tenants_see_no_stock(inventory: Inventory) -> None:
    item = sku()
    await inventory.call("PUT", f"/v1/inventory/stock/{item}", {"warehouse": "w1", "on_hand": 7})
    other = uuid.uuid4()
    assert (await inventory.call("GET", f"/v1/inventory/stock/{item}", tenant=other))[0] == 404
    status, page = await inventory.call("GET", "/v1/inventory/stock", tenant=other)
    assert status == 200
    assert page["items"] == []
    request = {"order_id": str(uuid.uuid4()), "lines": [{"sku": item, "quantity": 1}]}
    status, _ = await inventory.call("POST", "/v1/inventory/reservations", request, tenant=other)
    assert status == 422


async def test_openapi_json_serves_the_description(inventory: Inventory) -> None:
    """What the coverage test checks against the router is what clients get."""
    status, document = await inventory.call("GET", "/openapi.json")
    assert status == 200
    assert document == json.loads(json.dumps(inventory_openapi.description()))
