"""The tenant's search index on the session's real Elasticsearch, as its two writers make it: the
search service lazily and the Tenant operator's SearchReady step, racing; and offboarding's delete
of every generation. Each test has its own prefix, so it sees only its own indices."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest_asyncio

from meridian.core.search import elastic, indices
from meridian.operators.tenant import reasons, search


@pytest_asyncio.fixture
async def client(elasticsearch_url: str) -> AsyncIterator[elastic.Elastic]:
    async with aiohttp.ClientSession() as session:
        yield elastic.Elastic(session, elasticsearch_url, timeout_s=10)


@pytest_asyncio.fixture
async def prefix(client: elastic.Elastic) -> AsyncIterator[str]:
    name = f"si{uuid.uuid4().hex[:8]}"
    yield name
    listed = await client.call("GET", f"/_cat/indices/{name}-*", params={"format": "json"})
    names = [row["index"] for row in listed.body.get("value", [])]
    if names:
        await client.call("DELETE", f"/{','.join(names)}")


def closed_port() -> int:
    """A loopback port nothing listens on: Elasticsearch down, for real."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_operator_and_service_racing_make_one_index_and_search_is_ready(
    client: elastic.Elastic, prefix: str
) -> None:
    """Both writers at once (the operator's step and the service's lazy ensure): one index, one
    alias, no error; the condition names them."""
    tenant = uuid.uuid4()
    operator, *_ = await asyncio.gather(
        search.ensure(client, prefix, tenant),
        indices.ensure(client, prefix, tenant),
        indices.ensure(client, prefix, tenant),
    )
    assert await indices.of_tenant(client, prefix, tenant) == [indices.concrete(prefix, tenant, 1)]
    assert operator.type == reasons.SEARCH_READY
    again = await search.ensure(client, prefix, tenant)
    assert (again.status, again.reason) == ("True", reasons.PROVISIONED)
    alias, index = indices.alias(prefix, tenant), indices.concrete(prefix, tenant, 1)
    assert again.message == f"alias {alias} on index {index}"


async def test_the_operator_leaves_a_reindexed_alias_alone(
    client: elastic.Elastic, prefix: str
) -> None:
    """After a reindex swapped the alias to generation 2 and dropped 1, the operator's reconcile
    finds the alias and creates nothing (no fight with the service)."""
    tenant = uuid.uuid4()
    alias = indices.alias(prefix, tenant)
    first, second = indices.concrete(prefix, tenant, 1), indices.concrete(prefix, tenant, 2)
    await indices.ensure(client, prefix, tenant)
    assert (await client.call("PUT", f"/{second}", indices.body(None))).status == 200
    swap = {
        "actions": [
            {"remove": {"index": first, "alias": alias}},
            {"add": {"index": second, "alias": alias, "is_write_index": True}},
        ]
    }
    assert (await client.call("POST", "/_aliases", swap)).status == 200
    assert (await client.call("DELETE", f"/{first}")).status == 200

    condition = await search.ensure(client, prefix, tenant)
    assert (condition.status, condition.message) == ("True", f"alias {alias} on index {second}")
    assert await indices.of_tenant(client, prefix, tenant) == [second]


async def test_remove_deletes_every_generation_of_the_tenant_only(
    client: elastic.Elastic, prefix: str
) -> None:
    """Offboarding: the aliased index and a leftover generation go; another tenant's stays;
    a repeat (the finalizer retried) deletes nothing and does not fail."""
    tenant, other = uuid.uuid4(), uuid.uuid4()
    await indices.ensure(client, prefix, tenant)
    await indices.ensure(client, prefix, other)
    leftover = indices.concrete(prefix, tenant, 2)
    assert (await client.call("PUT", f"/{leftover}", indices.body(None))).status == 200

    removed = await indices.remove(client, prefix, tenant)
    assert removed == [indices.concrete(prefix, tenant, 1), leftover]
    assert await indices.of_tenant(client, prefix, tenant) == []
    assert not await indices.exists(client, indices.alias(prefix, tenant))
    assert await indices.of_tenant(client, prefix, other) == [indices.concrete(prefix, other, 1)]
    assert await indices.remove(client, prefix, tenant) == []


async def test_elasticsearch_down_makes_search_not_ready_naming_it() -> None:
    """Nothing listening: SearchReady=False, ElasticsearchUnavailable, and the message says so."""
    async with aiohttp.ClientSession() as session:
        down = elastic.Elastic(session, f"http://127.0.0.1:{closed_port()}", timeout_s=2)
        condition = await search.ensure(down, "products", uuid.uuid4())
    assert (condition.type, condition.status, condition.reason) == (
        reasons.SEARCH_READY,
        "False",
        reasons.ELASTICSEARCH_UNAVAILABLE,
    )
    assert "Elasticsearch unreachable" in condition.message


async def test_a_bulk_over_one_mebibyte_is_sent_and_indexed(
    client: elastic.Elastic, prefix: str
) -> None:
    """A `_bulk` of 1,000 products passes aiohttp's 1 MiB raw-body limit, past which it warns
    (an error under the tests' warnings-as-errors: the indexer's batches failed that way)."""
    index = f"{prefix}-bulk"
    mappings = {"dynamic": "strict", "properties": {"text": {"type": "keyword", "index": False}}}
    created = await client.call("PUT", f"/{index}", {"mappings": mappings})
    assert created.status == 200, created.body
    lines: list[dict[str, object]] = []
    for number in range(600):
        lines += [{"index": {"_index": index, "_id": str(number)}}, {"text": "x" * 2_000}]
    response = await client.bulk(lines, params={"refresh": "true"})
    assert (response.status, response.body["errors"]) == (200, False), response.body["items"][:1]
    counted = await client.call("GET", f"/{index}/_count")
    assert counted.body["count"] == 600
