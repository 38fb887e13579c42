"""Polling for eventual consistency: controllers converge, tests wait for them with a bound.

A test waits for a sign that the work it checks is done (a row, a message, a counter), never for a
fixed time: a sleep is either too short on a busy machine or checks nothing it claims to."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T]], *, within: float = 60.0, interval: float = 0.5
) -> T:
    """Return the first truthy result of `check()`; fail with its docstring after `within` s."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        result = await check()
        if result:
            return result
        if loop.time() > deadline:
            raise AssertionError(f"not within {within} s: {check.__doc__ or check}")
        await asyncio.sleep(interval)


async def sample(
    session: aiohttp.ClientSession, metrics_url: str, name: str, **labels: str
) -> float:
    """The value a service's /metrics shows now for one sample (0 when it has none yet): what a
    wait checks when the sign that work is done is a counter, not a row or a message."""
    async with session.get(metrics_url) as response:
        text = await response.text()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )
