"""The Redis token bucket and the rate limiter built on it, against a real Redis 7."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from meridian.localplatform import platform
from meridian.services.kit import cache


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
