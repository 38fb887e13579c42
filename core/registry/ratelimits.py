"""Where the gateway reads a tenant's rate limit: the registry row, cached in Redis.

The operator writes both (database first, then the cache: write-through); the gateway reads the
cache and falls back to the database on a miss. The key format lives here, once.
"""

from __future__ import annotations

import uuid
from typing import NamedTuple

import redis.asyncio as redis


class RateLimit(NamedTuple):
    requests_per_second: int
    burst: int


def cache_key(tenant_id: uuid.UUID | str) -> str:
    return f"meridian:tenant:{tenant_id}:ratelimit"


async def cached(client: redis.Redis, tenant_id: uuid.UUID | str) -> RateLimit | None:
    found = await client.hgetall(cache_key(tenant_id))
    if not found:
        return None
    return RateLimit(int(found[b"rps"]), int(found[b"burst"]))


async def publish(
    client: redis.Redis,
    tenant_id: uuid.UUID | str,
    limit: RateLimit,
    *,
    ttl: float | None = None,
) -> None:
    """Write the limit; `ttl` for a reader's cache fill (the gateway on a miss), so a value read
    just before the operator's next write cannot outlive it for long. The operator passes none."""
    key = cache_key(tenant_id)
    if ttl is None:
        await client.hset(key, mapping={"rps": limit.requests_per_second, "burst": limit.burst})
        return
    async with client.pipeline(transaction=True) as pipe:
        pipe.hset(key, mapping={"rps": limit.requests_per_second, "burst": limit.burst})
        pipe.pexpire(key, max(1, int(ttl * 1000)))
        await pipe.execute()


async def withdraw(client: redis.Redis, tenant_id: uuid.UUID | str) -> None:
    await client.delete(cache_key(tenant_id))
