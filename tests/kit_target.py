"""A service on the kit's runtime serving traffic, for Prometheus to scrape: the release analysis'
tests measure real `/metrics` (the runtime's own `http_requests_total` and durations), not numbers
written into Prometheus.

`serving(error_every=N)` starts the runtime app (`core.runtime.app.create`) on a free loopback port
with one route, `/v1/orders`, that fails every Nth request with a 500 (0: never), and keeps a
client calling it until the block ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import AsyncIterator
from typing import NamedTuple

import aiohttp
from aiohttp import web

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import problems
from meridian.core.runtime.settings import ServerSettings
from meridian.localplatform import net

REQUESTS_PER_SECOND = 20


class Served(NamedTuple):
    address: str
    """`127.0.0.1:port`: what Prometheus scrapes (`/metrics`)."""
    url: str


def _app(error_every: int) -> web.Application:
    app = runtime_app.create(ServerSettings(name="analysis-target"))
    counter = itertools.count(1)

    async def orders(_request: web.Request) -> web.Response:
        if error_every and next(counter) % error_every == 0:
            raise problems.ServiceUnavailable("Inventory unreachable")
        return web.json_response({"items": []})

    app.router.add_get("/v1/orders", orders)
    return app


async def _load(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        while True:
            async with session.get(f"{url}/v1/orders") as response:
                await response.read()
            await asyncio.sleep(1 / REQUESTS_PER_SECOND)


@contextlib.asynccontextmanager
async def serving(*, error_every: int = 0) -> AsyncIterator[Served]:
    (port,) = net.free_ports(1)
    runner = web.AppRunner(_app(error_every))
    await runner.setup()
    await web.TCPSite(runner, net.LOOPBACK, port).start()
    url = f"http://{net.LOOPBACK}:{port}"
    load = asyncio.create_task(_load(url))
    try:
        yield Served(f"{net.LOOPBACK}:{port}", url)
    finally:
        load.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await load
        await runner.cleanup()
