"""Elasticsearch stopped under a stream of product updates: search answers 503 with Retry-After,
nothing is acked before it is indexed, and after the restart every version in PostgreSQL is the
indexed one. It stops the session's Elasticsearch itself, and restarts it (waiting until it is
ready) before it ends, whatever happened, so the tests after it find it running."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp

from meridian.core.search import indices
from meridian.localplatform import platform
from meridian.localplatform.processes import Supervisor
from tests.integration.services.search.conftest import Catalogue
from tests.integration.services.search.test_search import found, product
from tests.waiting import eventually, sample

SKUS = [f"o-{n}" for n in range(10)]


async def indexed_versions(elasticsearch_url: str, alias: str) -> dict[str, int]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(
            f"{elasticsearch_url}/{alias}/_search",
            json={"size": 100, "version": True, "_source": False},
        ) as response,
    ):
        hits = (await response.json())["hits"]["hits"]
    return {hit["_id"]: hit["_version"] for hit in hits}


async def test_elasticsearch_down_for_20_s_loses_no_update(
    catalogue: Catalogue,
    local_platform: platform.PlatformState,
    elasticsearch_url: str,
    suffix: str,
) -> None:
    status, _ = await catalogue.write(
        "POST", "/v1/inventory/products", {"products": [product(sku) for sku in SKUS]}
    )
    assert status == 200

    async def indexed() -> bool:
        """the first versions are searchable"""
        return len(await found(catalogue, "size=50", waiting=True) or []) == len(SKUS)

    await eventually(indexed, within=60, interval=0.2)
    supervisor = Supervisor(Path(local_platform.run_dir))
    supervisor.stop("elasticsearch")
    try:
        status, problem, headers = await catalogue.search("/v1/search/products?q=tarp")
        assert (status, headers["Retry-After"]) == (503, "5"), problem
        assert headers["Content-Type"].startswith("application/problem+json")
        # A steady stream for 20 s: every SKU's price changes twice a second, round robin.
        loop = asyncio.get_running_loop()
        end, n = loop.time() + 20, 0
        while loop.time() < end:
            sku = SKUS[n % len(SKUS)]
            price = {"amount": f"{100 + n}.00", "currency": "USD"}
            status, _ = await catalogue.write(
                "POST", "/v1/inventory/products", product(sku, price=price)
            )
            assert status == 200
            n += 1
            await asyncio.sleep(0.05)
        async with aiohttp.ClientSession() as http:
            waiting = await sample(
                http, f"{catalogue.search_url}/metrics", "search_elasticsearch_unavailable"
            )
        assert waiting == 1
    finally:
        platform.start_elasticsearch(local_platform)
    stored = {}
    for sku in SKUS:
        _, body = await catalogue.write("GET", f"/v1/inventory/products/{sku}")
        stored[sku] = body["version"]
    assert sum(stored.values()) == len(SKUS) + n
    alias = indices.alias(f"t{suffix}", catalogue.tenant)

    async def caught_up() -> bool:
        """every product's indexed version is the one PostgreSQL holds"""
        return await indexed_versions(elasticsearch_url, alias) == stored

    await eventually(caught_up, within=120, interval=0.5)
    status, body, _ = await catalogue.search("/v1/search/products?sort=price_desc&size=1")
    assert status == 200
    assert body["items"][0]["price"]["amount"] == f"{100 + n - 1}.00"
