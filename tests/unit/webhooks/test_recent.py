"""Concurrent lookups share one fetch, answers are kept for their TTL, and `fresh` refetches."""

from __future__ import annotations

import asyncio

import pytest

from meridian.webhooks import recent


async def test_concurrent_callers_share_one_fetch_and_its_answer_is_kept() -> None:
    calls: list[int] = []

    async def fetch() -> int:
        calls.append(1)
        await asyncio.sleep(0.05)
        return len(calls)

    cache: recent.Recent[int] = recent.Recent(ttl_s=60)
    answers = await asyncio.gather(*(cache.get("ns", fetch) for _ in range(50)))
    assert answers == [1] * 50
    assert await cache.get("ns", fetch) == 1
    assert await cache.get("ns", fetch, fresh=True) == 2
    assert await cache.get("other", fetch) == 3


async def test_an_expired_answer_is_fetched_again_and_a_failure_is_not_kept() -> None:
    values = iter([RuntimeError("apiserver down"), 7, 8])

    async def fetch() -> int:
        value = next(values)
        if isinstance(value, Exception):
            raise value
        return value

    cache: recent.Recent[int] = recent.Recent(ttl_s=0.05)
    with pytest.raises(RuntimeError, match="apiserver down"):
        await cache.get("ns", fetch)
    assert await cache.get("ns", fetch) == 7
    await asyncio.sleep(0.1)
    assert await cache.get("ns", fetch) == 8
