"""The platform's Elasticsearch is a real 8.19 node of the integ-test distribution: what the search
service builds on works there, and what the distribution leaves out is really missing (so a mapping
or query that needs it fails here, not first in production's fuller cluster)."""

from __future__ import annotations

import uuid
from typing import Any

import aiohttp
import pytest

from meridian.localplatform import versions


async def _call(
    url: str, method: str, path: str, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, f"{url}{path}", json=body) as response,
    ):
        return response.status, await response.json(content_type=None)


@pytest.fixture
def index_name() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"


async def test_single_loopback_node_of_the_pinned_version(elasticsearch_url: str) -> None:
    assert elasticsearch_url.startswith("http://127.0.0.1:")
    status, nodes = await _call(elasticsearch_url, "GET", "/_nodes/_local/http,jvm")
    assert status == 200
    (node,) = nodes["nodes"].values()
    assert node["version"] == versions.ELASTICSEARCH
    assert node["http"]["bound_address"] == [node["http"]["publish_address"]]
    assert node["http"]["publish_address"].startswith("127.0.0.1:")
    assert node["jvm"]["version"].startswith("17.")
    assert node["jvm"]["mem"]["heap_max_in_bytes"] == 512 * 1024 * 1024


async def test_strict_mapping_with_flattened_completion_and_lowercase_normalizer(
    elasticsearch_url: str, index_name: str
) -> None:
    """flattened (bounded attributes), completion (autocomplete) and the built-in lowercase
    normalizer are core: the search service's mapping relies on all three."""
    mapping = {
        "settings": {"number_of_shards": 1, "number_of_replicas": 0},
        "mappings": {
            "dynamic": "strict",
            "properties": {
                "name": {
                    "type": "text",
                    "fields": {"key": {"type": "keyword", "normalizer": "lowercase"}},
                },
                "attributes": {"type": "flattened", "depth_limit": 1},
                "suggest": {"type": "completion"},
            },
        },
    }
    assert (await _call(elasticsearch_url, "PUT", f"/{index_name}", mapping))[0] == 200
    document = {
        "name": "Silnylon Tarp",
        "attributes": {"colour": "green"},
        "suggest": "Silnylon Tarp",
    }
    status, _ = await _call(
        elasticsearch_url, "PUT", f"/{index_name}/_doc/a?refresh=true", document
    )
    assert status == 201
    status, refused = await _call(
        elasticsearch_url, "PUT", f"/{index_name}/_doc/b", {"name": "x", "colour": "red"}
    )
    assert status == 400
    assert refused["error"]["type"] == "strict_dynamic_mapping_exception"
    query = {
        "query": {"term": {"attributes.colour": "green"}},
        "suggest": {"s": {"prefix": "sil", "completion": {"field": "suggest"}}},
    }
    status, found = await _call(elasticsearch_url, "POST", f"/{index_name}/_search", query)
    assert status == 200
    assert found["hits"]["total"]["value"] == 1
    assert [o["_id"] for o in found["suggest"]["s"][0]["options"]] == ["a"]
    await _call(elasticsearch_url, "DELETE", f"/{index_name}")


async def test_external_version_refuses_an_older_write(
    elasticsearch_url: str, index_name: str
) -> None:
    await _call(elasticsearch_url, "PUT", f"/{index_name}", {"settings": {"number_of_replicas": 0}})
    path = f"/{index_name}/_doc/sku-1?version_type=external&version="
    assert (await _call(elasticsearch_url, "PUT", path + "5", {"v": 5}))[0] == 201
    status, conflict = await _call(elasticsearch_url, "PUT", path + "3", {"v": 3})
    assert status == 409
    assert conflict["error"]["type"] == "version_conflict_engine_exception"
    _, document = await _call(elasticsearch_url, "GET", f"/{index_name}/_doc/sku-1")
    assert document["_source"] == {"v": 5}
    await _call(elasticsearch_url, "DELETE", f"/{index_name}")


async def test_a_write_to_a_missing_index_never_creates_one(elasticsearch_url: str) -> None:
    """action.auto_create_index=false: no dynamically mapped index appears behind our back."""
    name = f"missing-{uuid.uuid4().hex[:8]}"
    status, refused = await _call(elasticsearch_url, "PUT", f"/{name}/_doc/1", {"a": 1})
    assert status == 404
    assert refused["error"]["type"] == "index_not_found_exception"


@pytest.mark.parametrize(
    ("what", "mapping"),
    [
        ("mapper-extras", {"price": {"type": "scaled_float", "scaling_factor": 100}}),
        ("mapper-extras", {"name": {"type": "search_as_you_type"}}),
        ("analysis-common", {"name": {"type": "text", "analyzer": "english"}}),
    ],
)
async def test_modules_left_out_of_the_distribution_are_missing(
    elasticsearch_url: str, index_name: str, what: str, mapping: dict[str, Any]
) -> None:
    body = {"mappings": {"properties": mapping}}
    status, refused = await _call(elasticsearch_url, "PUT", f"/{index_name}", body)
    assert status == 400, f"{what} is present after all: {mapping}"
    assert refused["error"]["type"] == "mapper_parsing_exception"


async def test_no_reindex_api(elasticsearch_url: str) -> None:
    """The reindex module is absent: reindexing is the search service's job (from PostgreSQL)."""
    status, _ = await _call(elasticsearch_url, "POST", "/_reindex", {})
    assert status == 405
