"""The local nginx's stub_status page: parsed into counters, and the cache hit ratio from them.

Stock stub_status has connections and requests only; the cache counters come from an extra line
our nginx config appends to the page (`Cache: hits <n> misses <n>`, from the cache's access log
counters). A page without it still parses; the ratio is then unknown, not zero.

    Active connections: 291
    server accepts handled requests
     16630948 16630948 31070465
    Reading: 6 Writing: 179 Waiting: 106
    Cache: hits 26001 misses 5069
"""

from __future__ import annotations

import re
from typing import NamedTuple

import aiohttp

_ACTIVE = re.compile(r"^Active connections:\s*(\d+)\s*$", re.MULTILINE)
_COUNTERS = re.compile(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s*$", re.MULTILINE)
_CACHE = re.compile(r"^Cache:\s*hits\s+(\d+)\s+misses\s+(\d+)\s*$", re.MULTILINE)


class StubStatus(NamedTuple):
    active: int
    requests: int
    cache_hits: int | None
    cache_misses: int | None

    @property
    def cache_hit_ratio(self) -> float | None:
        if self.cache_hits is None or self.cache_misses is None:
            return None
        total = self.cache_hits + self.cache_misses
        return self.cache_hits / total if total else None


def parse(page: str) -> StubStatus:
    active = _ACTIVE.search(page)
    counters = _COUNTERS.search(page)
    if active is None or counters is None:
        raise ValueError("not an nginx stub_status page")
    cache = _CACHE.search(page)
    return StubStatus(
        active=int(active.group(1)),
        requests=int(counters.group(3)),
        cache_hits=int(cache.group(1)) if cache else None,
        cache_misses=int(cache.group(2)) if cache else None,
    )


async def fetch(session: aiohttp.ClientSession, url: str) -> StubStatus:
    async with session.get(url) as response:
        response.raise_for_status()
        return parse(await response.text())
