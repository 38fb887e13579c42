"""Search on real Elasticsearch, RabbitMQ and PostgreSQL: inventory's catalogue made searchable."""

from __future__ import annotations

import datetime
import decimal
import json
import random
import uuid
from collections import Counter
from typing import Any

import aio_pika
import aiohttp

from meridian.core.search import indices
from meridian.localplatform import platform
from meridian.services.kit import contracts
from tests.integration.services.search.conftest import Catalogue
from tests.waiting import eventually, sample


def product(code: str, **fields: Any) -> dict[str, Any]:
    return {
        "sku": code,
        "name": "Silnylon Tarp",
        "description": "A light tarp for wet weekends",
        "brand": "Acme",
        "category": "shelter/tarps",
        "price": {"amount": "89.00", "currency": "USD"},
        **fields,
    }


async def found(catalogue: Catalogue, query: str, *, waiting: bool = False) -> list[str] | None:
    """The SKUs a search finds. While `waiting` for the first document, a 503 is None: the
    tenant's index is created by its first event and answers 503 until its shard is started."""
    status, body, _ = await catalogue.search(f"/v1/search/products?{query}")
    if waiting and status == 503:
        return None
    assert status == 200, body
    return [item["sku"] for item in body["items"]]


async def test_a_created_product_becomes_searchable_and_the_lag_is_measured(
    catalogue: Catalogue,
) -> None:
    status, _ = await catalogue.write("POST", "/v1/inventory/products", product("tarp-1"))
    assert status == 201

    async def searchable() -> bool:
        """the new product is found by a word of its description"""
        return await found(catalogue, "q=weekends", waiting=True) == ["tarp-1"]

    await eventually(searchable, within=30, interval=0.2)
    _, body, _ = await catalogue.search("/v1/search/products?q=silnylon")
    assert body["items"][0]["price"] == {"amount": "89.00", "currency": "USD"}

    async def lag_observed() -> bool:
        """the indexer recorded the lag (when the bulk returned, just after the refresh)"""
        async with aiohttp.ClientSession() as http:
            url = f"{catalogue.search_url}/metrics"
            return await sample(http, url, "search_index_lag_seconds_count") >= 1

    await eventually(lag_observed, within=10, interval=0.1)


async def test_filters_and_facets_count_a_generated_dataset(catalogue: Catalogue) -> None:
    chooser = random.Random(15)
    brands = ["Acme", "Borealis", "Cirrus"]
    categories = ["shelter/tarps", "shelter/tents", "cooking/stoves"]
    products = [
        product(
            f"p-{n:03d}",
            name=f"Item {n}",
            brand=chooser.choice(brands),
            category=chooser.choice(categories),
            price={"amount": f"{chooser.randint(5, 400)}.00", "currency": "USD"},
        )
        for n in range(60)
    ]
    status, _ = await catalogue.write("POST", "/v1/inventory/products", {"products": products})
    assert status == 200

    async def all_indexed() -> bool:
        """all 60 products are searchable"""
        status, body, _ = await catalogue.search("/v1/search/products?size=1")
        return status == 200 and bool(body["total"] == 60)

    await eventually(all_indexed, within=30, interval=0.2)
    shelter = [p for p in products if p["category"].startswith("shelter/")]
    _, body, _ = await catalogue.search("/v1/search/products?category=shelter&size=100")
    assert body["total"] == len(shelter)
    assert {b["value"]: b["count"] for b in body["facets"]["brand"]} == dict(
        Counter(p["brand"] for p in shelter)
    )
    assert {b["value"]: b["count"] for b in body["facets"]["category"]} == dict(
        Counter(p["category"] for p in shelter)
    )
    cheap = [
        p for p in products if p["brand"] == "Acme" and decimal.Decimal(p["price"]["amount"]) <= 100
    ]
    _, body, _ = await catalogue.search(
        "/v1/search/products?brand=Acme&price_max=100&sort=price_asc&size=100"
    )
    assert body["total"] == len(cheap)
    prices = [decimal.Decimal(item["price"]["amount"]) for item in body["items"]]
    assert prices == sorted(prices)
    _, body, _ = await catalogue.search("/v1/search/products?size=1")
    ranges = {(b["from"], b["to"]): b["count"] for b in body["facets"]["price"]}
    below_25 = sum(1 for p in products if decimal.Decimal(p["price"]["amount"]) < 25)
    assert ranges[(None, "25.0")] == below_25
    assert sum(ranges.values()) == 60
    # Pages: bounded, and page 2 continues page 1.
    first = await found(catalogue, "sort=name&size=25")
    second = await found(catalogue, "sort=name&size=25&page=2")
    assert (len(first), len(second)) == (25, 25)
    assert not set(first) & set(second)


async def test_autocomplete_by_prefix_of_any_word_but_never_deleted_or_inactive(
    catalogue: Catalogue,
) -> None:
    await catalogue.write(
        "POST",
        "/v1/inventory/products",
        {
            "products": [
                product("s-1", name="Silnylon Tarp"),
                product("s-2", name="Silk Liner", brand="Borealis"),
                product("s-3", name="Silent Stove", active=False),
                product("s-4", name="Silver Pot"),
            ]
        },
    )
    await catalogue.write("DELETE", "/v1/inventory/products/s-4")

    async def settled() -> bool:
        """all four are indexed: only s-1 and s-2 visible (s-3 inactive, s-4 deleted)"""
        return await found(catalogue, "size=10", waiting=True) == ["s-1", "s-2"]

    await eventually(settled, within=30, interval=0.2)
    status, body, _ = await catalogue.search("/v1/search/suggest?q=sil")
    assert status == 200
    assert sorted(item["sku"] for item in body["items"]) == ["s-1", "s-2"]
    _, body, _ = await catalogue.search("/v1/search/suggest?q=Tar")
    assert [item["text"] for item in body["items"]] == ["Tarp"]
    _, body, _ = await catalogue.search("/v1/search/suggest?q=bore")
    assert [item["sku"] for item in body["items"]] == ["s-2"]


async def test_tenants_never_see_each_others_products(
    catalogue: Catalogue, elasticsearch_url: str, suffix: str
) -> None:
    await catalogue.write("POST", "/v1/inventory/products", product("mine-1"))

    async def indexed() -> bool:
        """the first tenant's product is searchable"""
        return await found(catalogue, "q=tarp", waiting=True) == ["mine-1"]

    await eventually(indexed, within=30, interval=0.2)
    other = uuid.uuid4()
    status, body, _ = await catalogue.search("/v1/search/products?q=tarp", tenant=other)
    assert (status, body["total"]) == (200, 0)
    _, body, _ = await catalogue.search("/v1/search/suggest?q=sil", tenant=other)
    assert body["items"] == []
    # Index level: the tenant's documents are in its own index only.
    async with aiohttp.ClientSession() as http:
        alias = indices.alias(f"t{suffix}", catalogue.tenant)
        async with http.get(f"{elasticsearch_url}/{alias}/_count") as response:
            assert (await response.json())["count"] == 1
        async with http.get(f"{elasticsearch_url}/_alias/{alias}") as response:
            (index,) = (await response.json()).keys()
        assert index == indices.concrete(f"t{suffix}", catalogue.tenant, 1)
        other_alias = indices.alias(f"t{suffix}", other)
        async with http.get(f"{elasticsearch_url}/{other_alias}/_count") as response:
            assert response.status == 404


async def test_an_older_event_arriving_late_never_overwrites_a_newer_document(
    catalogue: Catalogue, local_platform: platform.PlatformState
) -> None:
    await catalogue.write("POST", "/v1/inventory/products", product("v-1", name="Old Name"))
    await catalogue.write("POST", "/v1/inventory/products", product("v-1", name="New Name"))

    async def newest() -> bool:
        """version 2 is indexed"""
        return await found(catalogue, "q=new", waiting=True) == ["v-1"]

    await eventually(newest, within=30, interval=0.2)
    late = contracts.ProductUpsertedEvent(
        type="product.upserted",
        message_id=uuid.uuid4(),
        occurred_at=datetime.datetime.now(datetime.UTC),
        tenant_id=catalogue.tenant,
        version=1,
        product=contracts.ProductData.model_validate(product("v-1", name="Stale Name")),
    )
    marker = contracts.ProductUpsertedEvent(
        type="product.upserted",
        message_id=uuid.uuid4(),
        occurred_at=datetime.datetime.now(datetime.UTC),
        tenant_id=catalogue.tenant,
        version=1,
        product=contracts.ProductData.model_validate(product("marker", name="Marker")),
    )
    connection = await aio_pika.connect(local_platform.rabbitmq_info.amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(contracts.INVENTORY_EXCHANGE)
        for event in (late, marker):
            await exchange.publish(
                aio_pika.Message(json.dumps(event.model_dump(mode="json")).encode()),
                routing_key=event.type,
            )

    async def marker_indexed() -> bool:
        """the event published after the late one is indexed (so the late one was handled)"""
        return await found(catalogue, "q=marker", waiting=True) == ["marker"]

    await eventually(marker_indexed, within=30, interval=0.2)
    assert await found(catalogue, "q=stale") == []
    assert await found(catalogue, "q=new") == ["v-1"]


async def test_bad_queries_are_422_naming_the_parameter(catalogue: Catalogue) -> None:
    cases = {
        "/v1/search/products?colour=green": "/colour",
        "/v1/search/products?page=60&size=20": "/page",
        "/v1/search/products?page=0": "/page",
        "/v1/search/products?size=1000": "/size",
        "/v1/search/products?price_min=cheap": "/price_min",
        "/v1/search/products?sort=random": "/sort",
        "/v1/search/products?category=Shelter": "/category",
        "/v1/search/products?brand=a&brand=b": "/brand",
        "/v1/search/products?attr.Bad%20Key=x": "/attr.Bad Key",
        "/v1/search/products?_source=*": "/_source",
        "/v1/search/suggest": "/q",
        "/v1/search/suggest?q=a&fuzzy=1": "/fuzzy",
    }
    for path, field in cases.items():
        status, problem, headers = await catalogue.search(path)
        assert status == 422, (path, problem)
        assert headers["Content-Type"].startswith("application/problem+json")
        assert field in [error["field"] for error in problem["errors"]], (path, problem)


async def test_search_needs_the_search_scope(catalogue: Catalogue) -> None:
    status, _, _ = await catalogue.search("/v1/search/products", scopes=issuer_scopes())
    assert status == 403


def issuer_scopes() -> tuple[str, ...]:
    return (contracts.INVENTORY_READ,)
