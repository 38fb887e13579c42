"""The hot-read cache of stock answers in Redis, never older than what a writer last committed.

Each cached answer carries the SKU's `version` (it grows with every change). Writers put the
snapshot they committed, readers put the snapshot they read on a miss, and the Lua script keeps
whichever is newer — so a slow reader can never overwrite a writer's fresher answer, whatever the
order in which they reach Redis. Redis trouble never fails a request: reads fall back to
PostgreSQL, and the TTL bounds how long a missed update can linger.
"""

from __future__ import annotations

import uuid

import redis.asyncio as aioredis
from redis import exceptions as redis_exceptions

from meridian.core.runtime import logging as meridian_logging
from meridian.services.inventory import models

PUT_IF_NEWER = """
local current = tonumber(redis.call('HGET', KEYS[1], 'v'))
if current == nil or current < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'v', ARGV[1], 'body', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
return 0
"""

log = meridian_logging.get_logger("meridian.services.inventory.stockcache")


def key(tenant_id: uuid.UUID, sku: str) -> str:
    return f"inventory:stock:{tenant_id}:{sku}"


class StockCache:
    def __init__(self, client: aioredis.Redis, *, ttl_s: float) -> None:
        self.client = client
        self.ttl_ms = max(1, int(ttl_s * 1000))
        self._put = client.register_script(PUT_IF_NEWER)

    async def get(self, tenant_id: uuid.UUID, sku: str) -> models.Stock | None:
        try:
            body = await self.client.hget(key(tenant_id, sku), "body")
        except (redis_exceptions.RedisError, OSError) as error:
            log.warning("Stock cache unavailable", error=str(error))
            return None
        return None if body is None else models.Stock.model_validate_json(body)

    async def put(self, tenant_id: uuid.UUID, stock: models.Stock) -> None:
        try:
            await self._put(
                keys=[key(tenant_id, stock.sku)],
                args=[stock.version, stock.model_dump_json(), self.ttl_ms],
            )
        except (redis_exceptions.RedisError, OSError) as error:
            log.warning("Stock cache not updated", sku=stock.sku, error=str(error))
