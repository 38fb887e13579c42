"""Polling for eventual consistency: controllers converge, tests wait for them with a bound."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

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
