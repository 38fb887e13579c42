"""Which concrete index a tenant's alias names now, and the second alias a reindex writes through.

A reindex builds the next generation (`indices.concrete(..., generation)`) while the alias still
names the current one. Events that arrive meanwhile must land in both: the indexer writes every
document to the alias and to `building(alias)`, an alias that exists only on an index being built.
Elasticsearch resolves both names when it runs each bulk, so there is no cache to go stale: a
write resolved before the building alias existed is of a change committed before the reindex read
the catalogue, which the copy therefore holds; one resolved after reaches the new index itself.
Without a reindex, the second write is an `index_not_found` item that costs nothing.
"""

from __future__ import annotations

from meridian.core.search import elastic

BUILDING_SUFFIX = "-building"


def building(alias_name: str) -> str:
    return alias_name + BUILDING_SUFFIX


def generation_of(index: str) -> int:
    """`<alias>-v<mapping>-<generation>` -> generation."""
    return int(index.rsplit("-", 1)[1])


async def named_by(client: elastic.Elastic, alias_name: str) -> str | None:
    """The index `alias_name` writes to (its write index), or None when there is no such alias."""
    response = await client.call("GET", f"/_alias/{alias_name}")
    if response.status == 404:
        return None
    if response.status != 200:
        raise RuntimeError(f"Reading alias {alias_name} failed: {response.body}")
    found = sorted(
        (bool(meta.get("aliases", {}).get(alias_name, {}).get("is_write_index")), name)
        for name, meta in response.body.items()
    )
    return found[-1][1] if found else None
