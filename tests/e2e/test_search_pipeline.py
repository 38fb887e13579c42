"""The catalogue and search through the gateway, every service a real process, on real
Elasticsearch, PostgreSQL and RabbitMQ: what a storefront and a tenant admin would do."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from meridian.localplatform import pipeline, platform
from meridian.localplatform.processes import Supervisor
from tests import tenants
from tests.e2e.test_order_pipeline import call
from tests.waiting import eventually

LAG_GOAL_S = 30.0
"""The seed's index lag goal (event time -> searchable)."""


@pytest.fixture(scope="module")
def search_pipeline(
    local_platform: platform.PlatformState, elasticsearch_url: str
) -> Iterator[pipeline.Pipeline]:
    """The pipeline with search: Elasticsearch runs, so `pipeline.start` starts search too."""
    assert local_platform.elasticsearch_url == elasticsearch_url
    run_dir = Path(local_platform.run_dir) / "e2e-search"
    supervisor = Supervisor(run_dir)
    try:
        yield pipeline.start(local_platform, supervisor, run_dir)
    finally:
        supervisor.stop_all()


async def test_a_product_created_through_the_gateway_is_searchable_within_the_lag_goal(
    local_platform: platform.PlatformState, search_pipeline: pipeline.Pipeline, tmp_path: Path
) -> None:
    shop = await tenants.customer(local_platform, search_pipeline, tmp_path, prefix="s")
    other = await tenants.customer(local_platform, search_pipeline, tmp_path, prefix="s")
    gateway = search_pipeline.gateway_url
    body = {
        "sku": "TARP-3X3",
        "name": "Silnylon Tarp 3x3",
        "description": "A light tarp",
        "brand": "Acme",
        "category": "shelter/tarps",
        "price": {"amount": "89.00", "currency": "USD"},
        "attributes": {"colour": "green"},
    }
    started = time.monotonic()
    status, created = call("POST", f"{gateway}/v1/inventory/products", body, **shop.auth)
    assert status == 201, created

    async def searchable() -> bool:
        """the product is found through the gateway"""
        status, found = call(
            "GET", f"{gateway}/v1/search/products?q=silnylon&attr.colour=green", **shop.auth
        )
        return status == 200 and [item["sku"] for item in found["items"]] == ["TARP-3X3"]

    await eventually(searchable, within=LAG_GOAL_S, interval=0.2)
    assert time.monotonic() - started < LAG_GOAL_S
    status, suggested = call("GET", f"{gateway}/v1/search/suggest?q=tar", **shop.auth)
    assert (status, [s["sku"] for s in suggested["items"]]) == (200, ["TARP-3X3"])
    # The other tenant, through the same gateway, sees nothing of it.
    status, theirs = call("GET", f"{gateway}/v1/search/products?q=silnylon", **other.auth)
    assert (status, theirs["total"]) == (200, 0)
    status, theirs = call("GET", f"{gateway}/v1/search/suggest?q=sil", **other.auth)
    assert (status, theirs["items"]) == (200, [])
    # A bad query is the service's problem+json, passed through.
    status, problem = call("GET", f"{gateway}/v1/search/products?size=5000", **shop.auth)
    assert status == 422
    assert problem["errors"][0]["field"] == "/size"
