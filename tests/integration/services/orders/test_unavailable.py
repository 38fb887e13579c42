"""Inventory down: 503, the order kept pending (circuit opens), confirmed by the sweeper later."""

from __future__ import annotations

import socket
import uuid

import aiohttp

from meridian.localplatform import platform
from tests.integration.services import pipeline
from tests.waiting import eventually


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_orders_stay_pending_while_inventory_is_down_and_confirm_after(
    local_platform: platform.PlatformState, suffix: str
) -> None:
    tenant = uuid.uuid4()
    item = f"sku-{uuid.uuid4().hex[:8]}"
    headers = pipeline.caller(tenant)
    body = {"lines": [{"sku": item, "quantity": 1}]}
    async with (
        pipeline.serving_inventory(pipeline.inventory_config(local_platform, suffix)) as inv,
        aiohttp.ClientSession() as http,
    ):
        async with http.put(
            f"{inv}/v1/inventory/stock/{item}",
            json={"warehouse": "w", "on_hand": 5},
            headers=headers,
        ) as response:
            assert response.status == 200
        down = pipeline.orders_config(
            local_platform, suffix, f"http://127.0.0.1:{closed_port()}", breaker_failures=1
        )
        pending = []
        async with pipeline.serving_orders(down) as orders:
            for _ in range(2):
                async with http.post(f"{orders}/v1/orders", json=body, headers=headers) as r:
                    assert r.status == 503
                    assert r.headers["Retry-After"] == "5"
                    problem = await r.json(content_type=None)
                    assert problem["order"]["state"] == "pending"
                    pending.append(problem["order_id"])
            async with http.get(f"{orders}/metrics") as r:
                assert 'circuit_breaker_state{breaker="inventory"} 2.0' in await r.text()
        up = pipeline.orders_config(
            local_platform, suffix, inv, sweep_after_s=0, sweep_interval_s=0.2
        )
        async with pipeline.serving_orders(up) as orders:

            async def confirmed() -> bool:
                """the sweeper confirmed both pending orders"""
                async with http.get(f"{orders}/v1/orders?state=confirmed", headers=headers) as r:
                    return {o["id"] for o in (await r.json())["items"]} == set(pending)

            await eventually(confirmed, within=20, interval=0.2)
        async with http.get(f"{inv}/v1/inventory/stock/{item}", headers=headers) as response:
            assert (await response.json())["reserved"] == 2
