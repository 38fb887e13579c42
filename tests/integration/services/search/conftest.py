"""Search served in process beside inventory, on the session's Elasticsearch and RabbitMQ.

Each test gets its own queue (a suffix), index prefix and tenants, so tests never see each other's
documents; the queue and the test's indices are deleted afterwards.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest_asyncio

from meridian.core.runtime import app as runtime_app
from meridian.localplatform import platform
from meridian.services.kit import contracts
from meridian.services.search import app as search_app
from meridian.services.search import consumers
from meridian.services.search import settings as search_settings
from tests import issuer
from tests.integration.services import pipeline

SCOPES = (*issuer.ALL_SCOPES, contracts.SEARCH_READ, contracts.SEARCH_ADMIN)
SEARCH = "meridian-search"
"""Search's issuer: it signs its reads of inventory's catalogue (a reindex)."""


def search_config(
    local_platform: platform.PlatformState, suffix: str, elasticsearch_url: str, **overrides: Any
) -> search_settings.Settings:
    values: dict[str, Any] = {
        "port": 0,
        "amqp_url": local_platform.rabbitmq_info.amqp_url,
        "elasticsearch_url": elasticsearch_url,
        "index_prefix": f"t{suffix}",
        "products_queue": f"search.products.{suffix}",
        "identity_issuers": issuer.issuers(issuer.TESTS),
        "retry_delay_s": 0.1,
        "elasticsearch_retry_s": 0.2,
    }
    return search_settings.Settings(**{**values, **overrides})


@contextlib.asynccontextmanager
async def serving_search(settings: search_settings.Settings) -> AsyncIterator[str]:
    server = runtime_app.Server(search_app.create_app(settings), settings)
    try:
        yield await server.start()
    finally:
        await server.stop()


class Catalogue:
    """One tenant's view: inventory to write products, search to find them (`settings`: search's,
    to serve it again)."""

    def __init__(
        self,
        inventory_url: str,
        search_url: str,
        http: aiohttp.ClientSession,
        settings: search_settings.Settings,
    ) -> None:
        self.inventory_url = inventory_url
        self.search_url = search_url
        self.http = http
        self.settings = settings
        self.tenant = uuid.uuid4()

    async def write(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = pipeline.caller(self.tenant, SCOPES)
        url = self.inventory_url + path
        async with self.http.request(method, url, json=body, headers=headers) as response:
            return response.status, await response.json(content_type=None)

    async def search(
        self, path: str, tenant: uuid.UUID | None = None, scopes: tuple[str, ...] = SCOPES
    ) -> tuple[int, Any, aiohttp.typedefs.LooseHeaders]:
        headers = pipeline.caller(tenant or self.tenant, scopes)
        async with self.http.get(self.search_url + path, headers=headers) as response:
            return response.status, await response.json(content_type=None), response.headers


@pytest_asyncio.fixture
async def catalogue(
    local_platform: platform.PlatformState, elasticsearch_url: str, suffix: str
) -> AsyncIterator[Catalogue]:
    inventory = pipeline.inventory_config(
        local_platform,
        suffix,
        identity_issuers=issuer.issuers(issuer.TESTS, issuer.ORDERS, SEARCH),
    )
    async with pipeline.serving_inventory(inventory) as inv:
        settings = search_config(
            local_platform,
            suffix,
            elasticsearch_url,
            inventory_url=inv,
            identity_signing_key_file=issuer.key_file(SEARCH),
            reindex_grace_s=0.5,
            reindex_heartbeat_s=1.0,
            reindex_stale_s=10.0,
        )
        async with serving_search(settings) as search, aiohttp.ClientSession() as http:
            yield Catalogue(inv, search, http, settings)
    await pipeline.delete_topology(
        local_platform.rabbitmq_info.amqp_url, consumers.products_topology(settings)
    )
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{elasticsearch_url}/_cat/indices/t{suffix}-*?format=json") as r:
            names = [row["index"] for row in await r.json()]
        if names:
            await http.delete(f"{elasticsearch_url}/{','.join(names)}")
