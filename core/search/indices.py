"""Where a tenant's products live: one index per tenant behind the alias `<prefix>-<tenant>`.

Per-tenant indices (as the seed) rather than one shared index with filtered, routed aliases. The
bench (tests/bench/test_search_layout.py) measured the shared index cheaper: 400 per-tenant
indices are 400 shards, 340 MiB of a 512 MiB heap and 837 KiB of cluster state, and took minutes
to create on a busy two-core machine; at 60 tenants the shared index had 15 KiB of cluster state
against 126 and searched about as fast (heap, sampled without a GC, was noise: 107 vs 304 MiB in
one run, 160 vs 49 in the next). But the completion suggester ignores alias filters: through
one tenant's alias it returned another tenant's product name (only the alias's routing narrows
it to one shard, so whether a leak shows depends on which tenants share that shard); a shared
index would need the tenant as a suggester context on every document and call. Per-tenant
indices are also kept for what the core distribution lacks: a tenant's
reindex or mapping change is one new index and an alias swap, and offboarding one index delete,
where a shared index would need `_reindex` and `_delete_by_query` (the absent reindex module) or
a scroll-and-bulk of its own. Revisit (shared index, routed aliases) if heap becomes the limit.

Readers and writers only ever name the alias. The concrete index is
`<alias>-v<mapping version>-<generation>`; a reindex builds the next generation and swaps the
alias atomically (`_aliases` with remove + add in one request).
"""

from __future__ import annotations

import uuid
from typing import Any

from meridian.core.search import elastic, mapping


class Refused(RuntimeError):
    """Elasticsearch answered, and said no (a bad mapping, a name taken by something else):
    retrying the same call will not help until someone changes something."""


def alias(prefix: str, tenant_id: uuid.UUID) -> str:
    return f"{prefix}-{tenant_id}"


def concrete(prefix: str, tenant_id: uuid.UUID, generation: int) -> str:
    return f"{alias(prefix, tenant_id)}-v{mapping.VERSION}-{generation}"


def body(alias_name: str | None) -> dict[str, Any]:
    created: dict[str, Any] = {"settings": mapping.SETTINGS, "mappings": mapping.MAPPINGS}
    if alias_name is not None:
        created["aliases"] = {alias_name: {"is_write_index": True}}
    return created


async def exists(client: elastic.Elastic, alias_name: str) -> bool:
    response = await client.call("GET", f"/_alias/{alias_name}")
    return response.status == 200


async def ensure(client: elastic.Elastic, prefix: str, tenant_id: uuid.UUID) -> None:
    """The tenant's first index and its alias, unless the alias exists (idempotent, race-safe:
    two creators of generation 1 get one index, the loser an `already exists` it ignores)."""
    name = alias(prefix, tenant_id)
    if await exists(client, name):
        return
    response = await client.call("PUT", f"/{concrete(prefix, tenant_id, 1)}", body(name))
    if response.status == 200:
        return
    if _error_type(response) == "resource_already_exists_exception":
        return
    raise Refused(f"Creating the index of tenant {tenant_id} failed: {response.body}")


async def behind(client: elastic.Elastic, alias_name: str) -> list[str]:
    """The concrete indices the alias points at (one, except for the instant of a swap)."""
    response = await client.call("GET", f"/_alias/{alias_name}")
    return sorted(response.body) if response.status == 200 else []


async def of_tenant(client: elastic.Elastic, prefix: str, tenant_id: uuid.UUID) -> list[str]:
    """Every index of the tenant, whatever its generation or mapping version, aliased or not."""
    response = await client.call(
        "GET",
        f"/_cat/indices/{alias(prefix, tenant_id)}-v*",
        params={"format": "json", "h": "index"},
    )
    if response.status != 200:
        raise Refused(f"Listing the indices of tenant {tenant_id} failed: {response.body}")
    return sorted(row["index"] for row in response.body.get("value", []))


async def remove(client: elastic.Elastic, prefix: str, tenant_id: uuid.UUID) -> list[str]:
    """Offboarding: every index of the tenant, whatever its generation (named one by one: a
    wildcard delete is refused by `action.destructive_requires_name`). Idempotent: an index
    already gone is not an error. Returns the names deleted."""
    names = await of_tenant(client, prefix, tenant_id)
    if not names:
        return []
    response = await client.call(
        "DELETE", f"/{','.join(names)}", params={"ignore_unavailable": "true"}
    )
    if response.status != 200:
        raise Refused(f"Deleting the indices of tenant {tenant_id} failed: {response.body}")
    return names


def _error_type(response: elastic.Response) -> str | None:
    error = response.body.get("error", {})
    return error.get("type") if isinstance(error, dict) else None
