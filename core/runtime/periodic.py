"""Background work that repeats while a service runs: sweeps, purges, key and JWKS refreshes.

One way for all of them: a failing pass is logged (with `failure` and the traceback) and the next
pass retries, so one bad minute never stops the loop for good; leaving the block lets a pass in
progress finish rather than cancelling it halfway through a transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from meridian.core.runtime import logging as meridian_logging

log = meridian_logging.get_logger("meridian.core.runtime.periodic")


@contextlib.asynccontextmanager
async def running(
    work: Callable[[], Awaitable[object]],
    *,
    every_s: float,
    name: str,
    failure: str,
    first_now: bool = True,
) -> AsyncIterator[None]:
    """Runs `work` every `every_s` seconds (the first pass at once, unless `first_now` is false)
    for as long as the `async with` block runs."""
    stopping = asyncio.Event()

    async def pause() -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stopping.wait(), every_s)

    async def loop() -> None:
        if not first_now:
            await pause()
        while not stopping.is_set():
            try:
                await work()
            except Exception:
                log.exception(failure, task=name)
            await pause()

    task = asyncio.create_task(loop(), name=name)
    try:
        yield
    finally:
        stopping.set()
        await task
