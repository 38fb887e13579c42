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


async def publish(client: redis.Redis, tenant_id: uuid.UUID | str, limit: RateLimit) -> None:
    await client.hset(
        cache_key(tenant_id),
        mapping={"rps": limit.requests_per_second, "burst": limit.burst},
    )


async def withdraw(client: redis.Redis, tenant_id: uuid.UUID | str) -> None:
    await client.delete(cache_key(tenant_id))
