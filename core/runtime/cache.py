"""Redis for services: a client with timeouts, an atomic token bucket, and the rate limiter.

The token bucket is one Lua script, so taking a token is a single round trip (EVALSHA) and two
gateway replicas can never both spend the last token. Time comes from Redis's own clock (TIME)
unless the caller passes `now`, so replicas with skewed clocks still share one bucket fairly.
`RateLimiter` puts the bucket behind the one Redis-down behaviour every rate limit of ours has
(the gateway's per tenant, auth's per login account and address): see its docstring."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple, TypeVar

import prometheus_client
import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import NoScriptError, RedisError

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import logging as meridian_logging
from meridian.core.runtime import resilience
from meridian.core.runtime.settings import RedisSettings

CLIENT = web.AppKey("redis", aioredis.Redis)
REDIS_FAILURES = (RedisError, OSError, TimeoutError)
"""What "Redis cannot be reached" looks like: the client's errors, a refused socket, a timeout."""
T = TypeVar("T")

log = meridian_logging.get_logger(__name__)


def create_client(url: str, *, timeout: float = 1.0) -> aioredis.Redis:
    """Every command fails after `timeout` instead of hanging a request on a stuck Redis."""
    return aioredis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
    )


async def ping(client: aioredis.Redis) -> None:
    if not await client.ping():
        raise ConnectionError("Redis did not answer PING")


TOKEN_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then
  tokens = burst
  ts = now
end
if now > ts then
  tokens = math.min(burst, tokens + (now - ts) * rate)
  ts = now
end
local allowed = 0
local retry_after = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  retry_after = (cost - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(ts))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return {allowed, tostring(retry_after), tostring(tokens)}
"""


class Decision(NamedTuple):
    allowed: bool
    retry_after: float  # seconds until `cost` tokens are available; 0 when allowed
    remaining: float


class TokenBucket:
    """`rate` tokens per second refill a bucket holding at most `burst`; one key per bucket."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._script = client.register_script(TOKEN_BUCKET_LUA)

    async def take(
        self, key: str, *, rate: float, burst: int, now: float | None = None, cost: int = 1
    ) -> Decision:
        args = _bucket_args(rate=rate, burst=burst, now=now, cost=cost)
        return _decision(await self._script(keys=[key], args=args))

    async def take_and_check(
        self, key: str, *, rate: float, burst: int, exists: str, cost: int = 1
    ) -> tuple[Decision, bool]:
        """`take`, plus whether key `exists` is present, in one pipelined round trip.

        The gateway's hot path: the tenant's bucket and its revoked-token lookup together.
        """
        args = _bucket_args(rate=rate, burst=burst, now=None, cost=cost)
        client = self._script.registered_client
        for _attempt in range(2):
            async with client.pipeline(transaction=False) as pipe:
                pipe.exists(exists)
                pipe.evalsha(self._script.sha, 1, key, *args)
                found, reply = await pipe.execute(raise_on_error=False)
            if isinstance(found, Exception):
                raise found
            if isinstance(reply, NoScriptError):  # a restarted or flushed Redis: load it once
                await client.script_load(TOKEN_BUCKET_LUA)
                continue
            if isinstance(reply, Exception):
                raise reply
            return _decision(reply), bool(found)
        raise NoScriptError("the token bucket script could not be loaded")


class RateLimiter:
    """Token buckets that admit while Redis cannot be reached, and say so.

    The one Redis-down behaviour of every rate limit we run, requests and login attempts alike:
    admit. Redis is a cache here (no persistence, allkeys-lru); refusing would turn a cache
    outage into an API or login outage, and password guessing stays bounded by the hash's cost.
    What is lost meanwhile is visible: `meridian_<name>_degraded` reads 1,
    `meridian_<name>_bypassed_total` counts the calls admitted unchecked (both are alerted on),
    and one log line marks each change. A circuit breaker keeps every caller from waiting out
    Redis's timeout: after a failure, Redis is tried again only every `retry_s` (one probe), and
    the first answer ends the degradation.
    """

    def __init__(
        self,
        client: aioredis.Redis,
        *,
        name: str,
        what: str,
        retry_s: float,
        registry: prometheus_client.CollectorRegistry,
        on_breaker_change: Callable[[str, resilience.State], None] | None = None,
    ) -> None:
        """`name` prefixes the metrics; `what` (plural: "requests") is what they count."""
        self.bucket = TokenBucket(client)
        self.name = name
        self.is_degraded = False
        self.degraded = prometheus_client.Gauge(
            f"meridian_{name}_degraded",
            f"1 while Redis cannot be reached and {what} pass without rate limiting",
            registry=registry,
        )
        self.bypassed = prometheus_client.Counter(
            f"meridian_{name}_bypassed",
            f"{what.capitalize()} admitted without rate limiting: Redis could not be reached",
            registry=registry,
        )
        self.breaker = resilience.CircuitBreaker(
            "redis",
            failure_threshold=1,
            open_for=retry_s,
            failures=REDIS_FAILURES,
            on_change=on_breaker_change,
        )

    async def take(self, key: str, *, rate: float, burst: int) -> Decision | None:
        """A token from `key`'s bucket; None when Redis cannot be reached (the caller admits)."""
        return await self.consult(lambda bucket: bucket.take(key, rate=rate, burst=burst))

    async def consult(self, operation: Callable[[TokenBucket], Awaitable[T]]) -> T | None:
        """`operation`'s answer, or None when Redis cannot be reached (the caller admits).

        `operation` may do more Redis work than the bucket (the gateway reads the tenant's limit
        and the revoked-token key beside it); any of it failing counts as Redis down.
        """
        try:
            answer = await self.breaker.call(lambda: operation(self.bucket))
        except (resilience.CircuitOpen, *REDIS_FAILURES) as error:
            if not self.is_degraded:
                log.warning(
                    "Rate limiting degraded: Redis unreachable", limiter=self.name, error=str(error)
                )
                self.is_degraded = True
                self.degraded.set(1)
            self.bypassed.inc()
            return None
        if self.is_degraded:
            log.info("Rate limiting restored: Redis answers again", limiter=self.name)
            self.is_degraded = False
            self.degraded.set(0)
        return answer


def _bucket_args(*, rate: float, burst: int, now: float | None, cost: int) -> list[str]:
    if rate <= 0 or burst < 1 or not 1 <= cost <= burst:
        raise ValueError(f"need rate > 0 and 1 <= cost <= burst, got {rate}, {cost}, {burst}")
    return [repr(float(rate)), str(burst), str(cost), "" if now is None else repr(float(now))]


def _decision(reply: Any) -> Decision:
    allowed, retry_after, remaining = reply
    return Decision(bool(allowed), float(retry_after), float(remaining))


def client_context(settings: RedisSettings) -> runtime_app.CleanupContext:
    """A `cleanup_ctx` entry: the client into `app[CLIENT]` and the "redis" readiness check."""

    async def create() -> aioredis.Redis:
        url = runtime_app.required(settings, settings.redis_url, "redis_url")
        return create_client(url, timeout=settings.redis_timeout_s)

    return runtime_app.dependency(
        CLIENT, check="redis", create=create, close=aioredis.Redis.aclose, ping=ping
    )
