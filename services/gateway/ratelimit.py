"""Per-tenant rate limiting (and the revoked-token check) in one Redis round trip.

The tenant's limit is known in process for `limit_cache_s` (so the hot path does not read it from
Redis each time); on a miss it comes from the Tenant operator's Redis hash, else from the registry
row (then cached in Redis for a minute), else the default for a tenant the registry does not know.

Redis down is the seed's documented degradation, `cache.RateLimiter`'s: requests pass unlimited
(and unchecked for revocation), `meridian_gateway_ratelimit_degraded` reads 1 and
`meridian_gateway_ratelimit_bypassed_total` counts them; Redis is tried again every
`redis_retry_s` (one probe), and the gauge returns to 0 on the first answer."""

from __future__ import annotations

import time
import uuid
from typing import NamedTuple

import asyncpg
import prometheus_client
import redis.asyncio as aioredis

from meridian.core.registry import connection, ratelimits, tenants
from meridian.core.runtime import cache, db, metrics
from meridian.core.runtime import logging as meridian_logging
from meridian.services.gateway.settings import Settings
from meridian.services.kit import contracts

log = meridian_logging.get_logger("meridian.services.gateway.ratelimit")

REDIS_FILL_TTL_S = 60.0


class Verdict(NamedTuple):
    allowed: bool
    revoked: bool
    retry_after: float
    limited: bool  # False when Redis was not consulted (degraded mode)


class Limiter:
    def __init__(
        self,
        redis: aioredis.Redis,
        pool: db.Pool | None,
        settings: Settings,
        app_metrics: metrics.Metrics,
    ) -> None:
        self.redis = redis
        self.pool = pool
        self.settings = settings
        self.default = ratelimits.RateLimit(
            settings.default_rate_limit_rps, settings.default_rate_limit_burst
        )
        self._limits: dict[uuid.UUID, tuple[float, ratelimits.RateLimit]] = {}
        self.limiter = cache.RateLimiter(
            redis,
            name="gateway_ratelimit",
            what="requests",
            retry_s=settings.redis_retry_s,
            registry=app_metrics.registry,
            on_breaker_change=app_metrics.breaker_changed,
        )
        self.refused = prometheus_client.Counter(
            "meridian_gateway_ratelimited",
            "Requests refused with 429",
            registry=app_metrics.registry,
        )

    async def admit(self, claims: contracts.AccessClaims) -> Verdict:
        """Take one token of the tenant's bucket and check the token's revocation."""

        async def consult(bucket: cache.TokenBucket) -> tuple[cache.Decision, bool]:
            limit = await self.limit_of(claims.tenant_id)
            return await bucket.take_and_check(
                bucket_key(claims.tenant_id),
                rate=limit.requests_per_second,
                burst=limit.burst,
                exists=contracts.revoked_token_key(claims.jti),
            )

        answer = await self.limiter.consult(consult)
        if answer is None:
            return Verdict(allowed=True, revoked=False, retry_after=0, limited=False)
        decision, revoked = answer
        if not decision.allowed:
            self.refused.inc()
        return Verdict(decision.allowed, revoked, decision.retry_after, limited=True)

    async def limit_of(self, tenant_id: uuid.UUID) -> ratelimits.RateLimit:
        now = time.monotonic()
        known = self._limits.get(tenant_id)
        if known is not None and now - known[0] < self.settings.limit_cache_s:
            return known[1]
        limit = await ratelimits.cached(self.redis, tenant_id)  # Redis errors: degraded mode
        if limit is None:
            limit = await self._from_registry(tenant_id)
            if limit is None:
                limit = self.default
            else:
                await ratelimits.publish(self.redis, tenant_id, limit, ttl=REDIS_FILL_TTL_S)
        self._limits[tenant_id] = (now, limit)
        return limit

    async def _from_registry(self, tenant_id: uuid.UUID) -> ratelimits.RateLimit | None:
        if self.pool is None:
            return None
        try:
            async with db.tenant_connection(self.pool, tenant_id, role=connection.APP_ROLE) as conn:
                return await tenants.rate_limit(conn, tenant_id)
        except (OSError, TimeoutError, asyncpg.PostgresError) as error:
            log.warning("Tenant limit not read from the registry", error=str(error))
            return None


def bucket_key(tenant_id: uuid.UUID) -> str:
    return f"meridian:gateway:bucket:{tenant_id}"
