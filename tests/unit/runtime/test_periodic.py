"""Repeating background work: a failure does not end the loop, and stopping never cuts a pass."""

from __future__ import annotations

import asyncio

from meridian.core.runtime import periodic


async def test_a_failing_pass_is_retried_by_the_next() -> None:
    passes: list[int] = []
    third = asyncio.Event()

    async def work() -> None:
        passes.append(len(passes))
        if len(passes) == 3:
            third.set()
        if len(passes) == 1:
            raise RuntimeError("the database went away")

    async with periodic.running(work, every_s=0.01, name="t", failure="failed"):
        await asyncio.wait_for(third.wait(), 5)
    assert passes[:3] == [0, 1, 2]


async def test_leaving_waits_for_the_pass_in_progress() -> None:
    started, finished = asyncio.Event(), []

    async def work() -> None:
        started.set()
        await asyncio.sleep(0.05)
        finished.append(True)

    async with periodic.running(work, every_s=10, name="t", failure="failed"):
        await started.wait()
    assert finished == [True]


async def test_the_first_pass_can_wait_for_the_interval() -> None:
    passes: list[int] = []

    async def work() -> None:
        passes.append(1)

    async with periodic.running(work, every_s=10, name="t", failure="failed", first_now=False):
        await asyncio.sleep(0.05)
    assert passes == []
