"""The Redis token bucket and the rate limiter built on it, against a real Redis 7."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import NamedTuple

import prometheus_client
import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from meridian.core.runtime import cache, resilience
from meridian.localplatform import platform
from tests.integration.services.own_redis import RedisServer, free_port


@pytest_asyncio.fixture
async def client(local_platform: platform.PlatformState) -> AsyncIterator[aioredis.Redis]:
    assert local_platform.redis_url is not None
    client = cache.create_client(local_platform.redis_url, timeout=2.0)
    yield client
    await client.aclose()


@pytest.fixture
def key() -> str:
    return f"test:bucket:{uuid.uuid4().hex}"


async def test_burst_then_refused_with_retry_after_then_refilled(
    client: aioredis.Redis, key: str
) -> None:
    bucket = cache.TokenBucket(client)
    taken = [await bucket.take(key, rate=2.0, burst=3, now=1000.0) for _ in range(3)]
    assert all(d.allowed for d in taken)
    assert [d.remaining for d in taken] == [2.0, 1.0, 0.0]
    refused = await bucket.take(key, rate=2.0, burst=3, now=1000.0)
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(0.5)
    assert (await bucket.take(key, rate=2.0, burst=3, now=1000.25)).retry_after == pytest.approx(
        0.25
    )
    assert (await bucket.take(key, rate=2.0, burst=3, now=1000.5)).allowed
    # A long pause refills to the burst, never above it.
    after_pause = await bucket.take(key, rate=2.0, burst=3, now=2000.0)
    assert after_pause.allowed
    assert after_pause.remaining == 2.0


async def test_concurrent_takes_never_overspend(client: aioredis.Redis, key: str) -> None:
    bucket = cache.TokenBucket(client)
    decisions = await asyncio.gather(
        *(bucket.take(key, rate=0.001, burst=5, now=50.0) for _ in range(40))
    )
    assert sum(d.allowed for d in decisions) == 5


async def test_redis_clock_is_used_without_now(client: aioredis.Redis, key: str) -> None:
    bucket = cache.TokenBucket(client)
    decisions = [await bucket.take(key, rate=0.01, burst=2) for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, False]
    assert 90 < decisions[2].retry_after <= 100
    assert 0 < await client.pttl(key) <= 201_000


async def test_bucket_refuses_impossible_costs(client: aioredis.Redis, key: str) -> None:
    with pytest.raises(ValueError, match="cost"):
        await cache.TokenBucket(client).take(key, rate=1, burst=2, cost=3)


class Limited(NamedTuple):
    limiter: cache.RateLimiter
    registry: prometheus_client.CollectorRegistry

    def take(self, key: str, *, burst: int = 1) -> Awaitable[cache.Decision | None]:
        return self.limiter.take(key, rate=0.01, burst=burst)

    def metrics(self) -> tuple[float | None, float | None]:
        """(degraded, bypassed_total) as /metrics shows them."""
        sample = self.registry.get_sample_value
        return sample("meridian_test_limit_degraded"), sample("meridian_test_limit_bypassed_total")


def limited(client: aioredis.Redis, *, retry_s: float = 0.2) -> Limited:
    registry = prometheus_client.CollectorRegistry()
    return Limited(
        cache.RateLimiter(
            client, name="test_limit", what="calls", retry_s=retry_s, registry=registry
        ),
        registry,
    )


async def test_rate_limiter_refuses_past_the_burst_while_redis_answers(
    client: aioredis.Redis, key: str
) -> None:
    limit = limited(client)
    decisions = [await limit.take(key, burst=2) for _ in range(3)]
    assert [d is not None and d.allowed for d in decisions] == [True, True, False]
    assert limit.metrics() == (0.0, 0.0)


async def test_rate_limiter_admits_while_redis_is_down_says_so_and_recovers(
    own_redis: RedisServer, key: str
) -> None:
    """Down: admitted (None), counted, one breaker-guarded probe per retry_s; back: limits again."""
    client = cache.create_client(own_redis.url, timeout=0.5)
    limit = limited(client, retry_s=0.3)
    try:
        assert await limit.take(key) is not None
        await own_redis.stop()
        assert [await limit.take(key) for _ in range(5)] == [None] * 5
        assert limit.metrics() == (1.0, 5.0)
        # After the first failure no call waits for Redis's timeout: the breaker answers.
        assert limit.limiter.breaker.state is resilience.State.OPEN
        await own_redis.start()
        await asyncio.sleep(0.35)  # past retry_s: the next call probes
        probe = await limit.take(key)  # a fresh Redis: a fresh bucket
        assert probe is not None
        assert probe.allowed
        assert limit.metrics() == (0.0, 5.0)
        refused = await limit.take(key)
        assert refused is not None
        assert not refused.allowed
    finally:
        await client.aclose()


async def test_rate_limiter_on_a_closed_port_admits_from_the_first_call(key: str) -> None:
    client = cache.create_client(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    limit = limited(client)
    try:
        with pytest.raises(cache.REDIS_FAILURES):
            await cache.ping(client)
        assert await limit.take(key) is None
        assert limit.metrics() == (1.0, 1.0)
    finally:
        await client.aclose()


async def test_rate_limiter_passes_a_callers_mistake_through(
    client: aioredis.Redis, key: str
) -> None:
    """A bad argument is the caller's bug, not Redis down: raised, never admitted silently."""
    limit = limited(client)
    with pytest.raises(ValueError, match="cost"):
        await limit.limiter.consult(lambda bucket: bucket.take(key, rate=1, burst=1, cost=2))
    assert limit.metrics() == (0.0, 0.0)
