"""Full reindex time of one tenant with 10,000 products, beside a plain bulk load of the same
documents in the same run (the floor: what writing them into an index costs at all).

Inventory and search run in process on the platform's PostgreSQL, RabbitMQ and Elasticsearch.
The catalogue is loaded through inventory (and indexed from its events); then the baseline bulks
the same 10,000 documents into a scratch index (500 per request, as the reindex pages, then one
refresh), and the reindex runs through `POST /v1/search/reindex` until its state is `done`:
reading inventory's pages, copying, verifying, swapping, waiting out the grace period and
deleting the old index. Prints both times and the throughput; asserts only that the reindex ends
done with every product.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import aiohttp
import pytest

from meridian.core.search import indices
from meridian.localplatform import platform
from meridian.services.search import catalogue, consumers, reindex
from tests import issuer
from tests.bench.figures import _row
from tests.integration.services import pipeline
from tests.integration.services.search.conftest import SCOPES, SEARCH, search_config, serving_search

PRODUCTS = 10_000
PAGE = 500


def _product(n: int) -> dict[str, Any]:
    words = ["tarp", "tent", "stove", "lamp", "pot", "quilt", "pack", "pole"]
    return {
        "sku": f"sku-{n:05d}",
        "name": f"{words[n % 8].title()} {words[(n // 8) % 8]} {n}",
        "description": " ".join(words[(n + i) % 8] for i in range(12)),
        "brand": ["Acme", "Borealis", "Cirrus"][n % 3],
        "category": ["shelter/tarps", "shelter/tents", "cooking/stoves"][n % 3],
        "price": {"amount": f"{5 + n % 400}.00", "currency": "USD"},
        "attributes": {"colour": ["green", "grey", "orange"][n % 3]},
    }


async def _json(
    http: aiohttp.ClientSession, method: str, url: str, body: Any = None, **kw: Any
) -> tuple[int, Any]:
    async with http.request(method, url, json=body, **kw) as response:
        return response.status, await response.json(content_type=None)


@pytest.mark.timeout(1800)
async def test_reindex_time_of_one_tenant_beside_a_plain_bulk_load(
    local_platform: platform.PlatformState, elasticsearch_url: str
) -> None:
    suffix = uuid.uuid4().hex[:10]
    tenant = uuid.uuid4()
    headers = pipeline.caller(tenant, SCOPES)
    inventory = pipeline.inventory_config(
        local_platform, suffix, identity_issuers=issuer.issuers(issuer.TESTS, SEARCH)
    )
    async with (
        pipeline.serving_inventory(inventory) as inventory_url,
        aiohttp.ClientSession() as http,
    ):
        settings = search_config(
            local_platform,
            suffix,
            elasticsearch_url,
            inventory_url=inventory_url,
            identity_signing_key_file=issuer.key_file(SEARCH),
            reindex_grace_s=0.0,
        )
        async with serving_search(settings) as search_url:
            for start in range(0, PRODUCTS, PAGE):
                batch = [_product(n) for n in range(start, min(start + PAGE, PRODUCTS))]
                status, body = await _json(
                    http,
                    "POST",
                    f"{inventory_url}/v1/inventory/products",
                    {"products": batch},
                    headers=headers,
                )
                assert status == 200, body
            indexed = 0
            while indexed < PRODUCTS:
                await asyncio.sleep(1)
                status, body = await _json(
                    http, "GET", f"{search_url}/v1/search/products?size=1", headers=headers
                )
                indexed = body.get("total", 0) if status == 200 else 0

            # Baseline: the same documents, bulked straight into a scratch index.
            documents: list[tuple[dict[str, Any], dict[str, Any]]] = []
            after = ""
            while True:
                status, page = await _json(
                    http,
                    "GET",
                    f"{inventory_url}/v1/inventory/products",
                    params={"after": after, "limit": str(PAGE)},
                    headers=headers,
                )
                assert status == 200, page
                rows = catalogue.Page.model_validate(page)
                scratch = f"{settings.index_prefix}-baseline"
                documents += [reindex._line(tenant, scratch, p) for p in rows.items]
                if rows.next_after is None:
                    break
                after = rows.next_after
            assert len(documents) == PRODUCTS
            status, body = await _json(
                http, "PUT", f"{elasticsearch_url}/{scratch}", indices.body(None)
            )
            assert status == 200, body
            began = time.perf_counter()
            for start in range(0, PRODUCTS, PAGE):
                lines = "".join(
                    json.dumps(part) + "\n"
                    for line in documents[start : start + PAGE]
                    for part in line
                )
                async with http.post(
                    f"{elasticsearch_url}/_bulk",
                    data=lines,
                    headers={"Content-Type": "application/x-ndjson"},
                ) as response:
                    result = await response.json()
                    assert response.status == 200
                    assert not result["errors"]
            await _json(http, "POST", f"{elasticsearch_url}/{scratch}/_refresh")
            baseline_s = time.perf_counter() - began

            began = time.perf_counter()
            status, run = await _json(
                http, "POST", f"{search_url}/v1/search/reindex", headers=headers
            )
            assert status == 202, run
            while run["state"] in ("building", "swapping"):
                await asyncio.sleep(0.2)
                _, run = await _json(
                    http, "GET", f"{search_url}/v1/search/reindex", headers=headers
                )
            reindex_s = time.perf_counter() - began
            assert run["state"] == "done", run
            assert run["documents_copied"] == PRODUCTS

        print(f"\nReindex of one tenant, {PRODUCTS} products (page {PAGE})")
        _row(
            "full reindex (catalogue pages -> new index -> swap)",
            f"{reindex_s:.1f} s",
            f"{PRODUCTS / reindex_s:.0f} docs/s",
        )
        _row(
            "baseline: plain _bulk of the same documents",
            f"{baseline_s:.1f} s",
            f"{PRODUCTS / baseline_s:.0f} docs/s",
        )
        async with http.get(
            f"{elasticsearch_url}/_cat/indices/{settings.index_prefix}-*?format=json"
        ) as r:
            names = [row["index"] for row in await r.json()]
        if names:
            await http.delete(f"{elasticsearch_url}/{','.join(names)}")
    await pipeline.delete_topology(
        local_platform.rabbitmq_info.amqp_url,
        consumers.products_topology(settings),
    )
