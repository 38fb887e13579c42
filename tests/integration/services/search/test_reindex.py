"""Zero-downtime reindex on real Elasticsearch, RabbitMQ and PostgreSQL: a new generation built
from inventory's catalogue, events during the build in it too, the alias swapped atomically."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from meridian.core.search import indices, mapping
from meridian.services.kit import contracts
from meridian.services.search import generations
from tests.integration.services import pipeline
from tests.integration.services.search.conftest import SCOPES, Catalogue, serving_search
from tests.integration.services.search.test_search import product
from tests.waiting import eventually


async def admin(
    catalogue: Catalogue,
    method: str,
    *,
    url: str | None = None,
    scopes: tuple[str, ...] = SCOPES,
) -> tuple[int, Any]:
    headers = pipeline.caller(catalogue.tenant, scopes)
    target = (url or catalogue.search_url) + "/v1/search/reindex"
    async with catalogue.http.request(method, target, headers=headers) as response:
        return response.status, await response.json(content_type=None)


async def total(catalogue: Catalogue, query: str = "", url: str | None = None) -> int | None:
    headers = pipeline.caller(catalogue.tenant, SCOPES)
    target = f"{url or catalogue.search_url}/v1/search/products?size=1&{query}"
    async with catalogue.http.get(target, headers=headers) as response:
        if response.status != 200:
            return None
        return int((await response.json())["total"])


async def load(catalogue: Catalogue, count: int, *, brand: str = "Acme") -> list[str]:
    """`count` products through inventory, then waits until search finds them all."""
    skus = [f"{brand.lower()}-{n:05d}" for n in range(count)]
    for start in range(0, count, 500):
        batch = [product(sku, name=f"Item {sku}", brand=brand) for sku in skus[start : start + 500]]
        status, body = await catalogue.write("POST", "/v1/inventory/products", {"products": batch})
        assert status == 200, body

    async def searchable() -> bool:
        """every product loaded is searchable"""
        return await total(catalogue, f"brand={brand}") == count

    await eventually(searchable, within=90, interval=0.5)
    return skus


async def finished(catalogue: Catalogue, url: str | None = None) -> dict[str, Any]:
    async def ended() -> dict[str, Any] | None:
        """the reindex ended"""
        status, body = await admin(catalogue, "GET", url=url)
        assert status == 200, body
        return body if body["state"] in ("done", "failed", "abandoned") else None

    return await eventually(ended, within=120, interval=0.2)


async def alias_target(elasticsearch_url: str, catalogue: Catalogue) -> str | None:
    alias = indices.alias(catalogue.settings.index_prefix, catalogue.tenant)
    async with catalogue.http.get(f"{elasticsearch_url}/_alias/{alias}") as response:
        if response.status == 404:
            return None
        return next(iter(await response.json()))


async def index_exists(elasticsearch_url: str, catalogue: Catalogue, name: str) -> bool:
    async with catalogue.http.head(f"{elasticsearch_url}/{name}") as response:
        return response.status == 200


async def test_reindex_builds_the_next_generation_and_swaps_the_alias(
    catalogue: Catalogue, elasticsearch_url: str
) -> None:
    """The new generation holds every product, the alias names it, the old index is gone."""
    skus = await load(catalogue, 120)
    status, _ = await catalogue.write("DELETE", f"/v1/inventory/products/{skus[0]}")
    assert status == 204
    await eventually(lambda: _equals(total(catalogue), 119), within=30, interval=0.2)
    before = await alias_target(elasticsearch_url, catalogue)
    assert before is not None
    assert generations.generation_of(before) == 1

    status, started = await admin(catalogue, "POST")
    assert status == 202, started
    assert started["state"] == "building"
    assert started["source_index"] == before
    run = await finished(catalogue)

    assert run["state"] == "done", run
    assert run["documents_copied"] == 119
    assert run["tombstones_carried"] == 1  # the deleted product's version, carried over
    assert run["documents_in_target"] == 120
    after = await alias_target(elasticsearch_url, catalogue)
    assert after == run["target_index"]
    assert generations.generation_of(after) == 2
    assert not await index_exists(elasticsearch_url, catalogue, before)
    assert await total(catalogue) == 119
    building = generations.building(
        indices.alias(catalogue.settings.index_prefix, catalogue.tenant)
    )
    assert not await index_exists(elasticsearch_url, catalogue, building)


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def test_reindex_under_load_never_shows_an_empty_or_partial_index(
    catalogue: Catalogue, elasticsearch_url: str
) -> None:
    """Searches during the whole run always see every product; changes made meanwhile (prices,
    new products) are all in the new index afterwards."""
    count = 1500
    skus = await load(catalogue, count)
    seen: list[int | None] = []
    stop = asyncio.Event()

    async def search_throughout() -> None:
        while not stop.is_set():
            seen.append(await total(catalogue, "brand=Acme"))

    changed: dict[str, str] = {}
    created: list[str] = []

    async def change_throughout() -> None:
        n = 0
        while not stop.is_set():
            sku = skus[(n * 37) % count]
            price = f"{100 + n}.00"
            body = product(sku, name=f"Item {sku}", price={"amount": price, "currency": "USD"})
            status, answer = await catalogue.write("POST", "/v1/inventory/products", body)
            assert status == 200, answer
            changed[sku] = price
            late = f"late-{n:04d}"
            status, answer = await catalogue.write(
                "POST", "/v1/inventory/products", product(late, brand="Late")
            )
            assert status == 201, answer
            created.append(late)
            n += 1
            await asyncio.sleep(0.05)

    searching = asyncio.create_task(search_throughout())
    changing = asyncio.create_task(change_throughout())
    status, started = await admin(catalogue, "POST")
    assert status == 202, started
    run = await finished(catalogue)
    await asyncio.sleep(1.0)  # a little load after the swap and the old index's deletion too
    stop.set()
    await asyncio.gather(searching, changing)

    assert run["state"] == "done", run
    assert run["documents_copied"] >= count
    assert len(seen) > 20
    assert set(seen) == {count}, sorted(set(map(str, seen)))
    assert len(created) > 5
    assert changed

    async def all_there() -> bool:
        """every product created during the reindex is found, every changed price is indexed"""
        return await total(catalogue, "brand=Late") == len(created)

    await eventually(all_there, within=30, interval=0.2)
    alias = indices.alias(catalogue.settings.index_prefix, catalogue.tenant)
    for sku, price in changed.items():
        async with catalogue.http.get(f"{elasticsearch_url}/{alias}/_doc/{sku}") as response:
            document = await response.json()
        _, stored = await catalogue.write("GET", f"/v1/inventory/products/{sku}")
        assert document["_version"] == stored["version"], sku
        assert document["_source"]["price_amount"] == price == stored["price"]["amount"]


async def test_a_killed_reindex_leaves_the_alias_whole_and_a_rerun_finishes_it(
    catalogue: Catalogue, elasticsearch_url: str
) -> None:
    """Search stopped mid-copy: the alias still names the complete index; the run shows as
    abandoned once its heartbeat stops, and the next request resumes it after its checkpoint."""
    count = 1500
    await load(catalogue, count)
    slow = catalogue.settings.model_copy(update={"reindex_page_size": 20})
    async with serving_search(slow) as doomed:
        status, started = await admin(catalogue, "POST", url=doomed)
        assert status == 202, started

        async def copying() -> bool:
            """the run has copied some products, not all"""
            _, body = await admin(catalogue, "GET", url=doomed)
            return 0 < body["documents_copied"] < count

        await eventually(copying, within=30, interval=0.05)
    # That server is gone, its run cancelled midway: the alias has not moved.
    assert await alias_target(elasticsearch_url, catalogue) == started["source_index"]
    assert await total(catalogue) == count
    run = await finished(catalogue)
    assert run["state"] == "abandoned"
    assert run["documents_copied"] < count

    status, resumed = await admin(catalogue, "POST")
    assert status == 202, resumed
    assert resumed["run_id"] == started["run_id"]
    assert resumed["after"] == run["after"]
    done = await finished(catalogue)
    assert done["state"] == "done", done
    assert done["documents_copied"] == count  # each product copied once, across both
    assert await alias_target(elasticsearch_url, catalogue) == started["target_index"]
    assert await total(catalogue) == count


async def test_a_second_request_joins_the_running_reindex(catalogue: Catalogue) -> None:
    await load(catalogue, 200)
    slow = catalogue.settings.model_copy(update={"reindex_page_size": 10})
    async with serving_search(slow) as url:
        _, first = await admin(catalogue, "POST", url=url)
        status, second = await admin(catalogue, "POST", url=url)
        assert status == 202
        assert second["run_id"] == first["run_id"]
        assert (await finished(catalogue, url))["state"] == "done"


async def test_reindex_needs_the_admin_scope_and_reports_never_run(catalogue: Catalogue) -> None:
    reader = (contracts.SEARCH_READ, contracts.INVENTORY_READ)
    assert (await admin(catalogue, "POST", scopes=reader))[0] == 403
    assert (await admin(catalogue, "GET", scopes=reader))[0] == 403
    status, problem = await admin(catalogue, "GET")
    assert status == 404
    assert "never been reindexed" in problem["detail"]


async def test_a_stranger_tenants_reindex_does_not_touch_this_one(
    catalogue: Catalogue, elasticsearch_url: str
) -> None:
    await load(catalogue, 30)
    mine = await alias_target(elasticsearch_url, catalogue)
    other = Catalogue(
        catalogue.inventory_url, catalogue.search_url, catalogue.http, catalogue.settings
    )
    other.tenant = uuid.uuid4()
    status, started = await admin(other, "POST")
    assert status == 202, started
    assert (await finished(other))["state"] == "done"
    assert await alias_target(elasticsearch_url, catalogue) == mine
    assert await total(catalogue) == 30
    assert await total(other) == 0


async def test_a_mapping_change_ships_as_a_reindex_to_an_index_of_the_new_version(
    catalogue: Catalogue, elasticsearch_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The code's mapping version bumped (as a release would): the run builds `-v<new>-2` and the
    alias leaves the old version's index."""
    await load(catalogue, 50)
    old = mapping.VERSION
    before = await alias_target(elasticsearch_url, catalogue)
    assert before is not None
    assert before.endswith(f"-v{old}-1")
    monkeypatch.setattr(mapping, "VERSION", old + 1)
    status, started = await admin(catalogue, "POST")
    assert status == 202, started
    run = await finished(catalogue)
    assert run["state"] == "done", run
    assert run["mapping_version"] == old + 1
    assert await alias_target(elasticsearch_url, catalogue) == run["target_index"]
    assert run["target_index"].endswith(f"-v{old + 1}-2")
    assert not await index_exists(elasticsearch_url, catalogue, before)
    assert await total(catalogue) == 50
