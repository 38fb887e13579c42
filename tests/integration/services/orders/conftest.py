"""Inventory and orders served in-process on port 0, orders pointed at inventory's URL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest_asyncio

from meridian.localplatform import platform
from meridian.services.orders import settings as orders_settings
from tests.integration.services import pipeline


@dataclass
class Pipeline:
    inventory: str
    orders: str
    http: aiohttp.ClientSession
    settings: orders_settings.Settings
    tenant: uuid.UUID

    async def stock(self, sku: str, on_hand: int, warehouse: str = "wh-1") -> None:
        async with self.http.put(
            f"{self.inventory}/v1/inventory/stock/{sku}",
            json={"warehouse": warehouse, "on_hand": on_hand},
            headers=pipeline.caller(self.tenant),
        ) as response:
            assert response.status == 200, await response.text()

    async def order(
        self, lines: list[dict[str, object]], *, tenant: uuid.UUID | None = None, key: str = ""
    ) -> tuple[int, dict[str, object]]:
        headers = pipeline.caller(tenant or self.tenant)
        if key:
            headers["Idempotency-Key"] = key
        async with self.http.post(
            f"{self.orders}/v1/orders", json={"lines": lines}, headers=headers
        ) as response:
            return response.status, await response.json(content_type=None)

    async def available(self, sku: str) -> dict[str, object]:
        async with self.http.get(
            f"{self.inventory}/v1/inventory/stock/{sku}", headers=pipeline.caller(self.tenant)
        ) as response:
            assert response.status == 200
            body: dict[str, object] = await response.json()
            return body


@pytest_asyncio.fixture
async def services(local_platform: platform.PlatformState, suffix: str) -> AsyncIterator[Pipeline]:
    async with (
        pipeline.serving_inventory(pipeline.inventory_config(local_platform, suffix)) as inv,
        aiohttp.ClientSession() as http,
    ):
        settings = pipeline.orders_config(local_platform, suffix, inv, inventory_timeout_s=15)
        async with pipeline.serving_orders(settings) as orders:
            yield Pipeline(inv, orders, http, settings, uuid.uuid4())
