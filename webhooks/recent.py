"""Lookups answered from the last few seconds, and one fetch shared by concurrent callers.

200 Deployments created at once in one namespace must not become 200 lists of its PDBs: the
first caller fetches, the others await the same fetch, and the answer is kept for `ttl_s`.
Callers use it only where a stale answer cannot wrongly deny: a cached "not found" is always
checked again with `fresh=True` before it turns into a denial (so a PDB created a moment before
its Deployment, in the same apply, is always seen). A stale "found" admits for at most `ttl_s`
after its object was deleted; the audit controller reports what that let through.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")
_MAX_KEPT = 10_000


class Recent(Generic[T]):
    def __init__(self, ttl_s: float) -> None:
        self.ttl_s = ttl_s
        self._kept: dict[str, tuple[float, T]] = {}
        self._flying: dict[str, asyncio.Task[T]] = {}

    async def get(self, key: str, fetch: Callable[[], Awaitable[T]], *, fresh: bool = False) -> T:
        loop = asyncio.get_running_loop()
        kept = self._kept.get(key)
        if not fresh and kept is not None and kept[0] > loop.time():
            return kept[1]
        task = None if fresh else self._flying.get(key)
        if task is None:
            task = asyncio.ensure_future(self._fetch(key, fetch))
            task.add_done_callback(_retrieve)  # every waiter may have timed out already
            if not fresh:
                self._flying[key] = task
                task.add_done_callback(lambda _done: self._flying.pop(key, None))
        # Shielded: one caller's timeout must not cancel the fetch the others are waiting on.
        return await asyncio.shield(task)

    async def _fetch(self, key: str, fetch: Callable[[], Awaitable[T]]) -> T:
        value = await fetch()
        loop = asyncio.get_running_loop()
        if len(self._kept) >= _MAX_KEPT:
            now = loop.time()
            self._kept = {k: v for k, v in self._kept.items() if v[0] > now}
        self._kept[key] = (loop.time() + self.ttl_s, value)
        return value


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()
