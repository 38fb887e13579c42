"""nginx's stub_status page, read over HTTP from a local server speaking its format."""

from __future__ import annotations

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer

from meridian.edge_agent import stubstatus

# nginx ends some lines with a space; our nginx config appends the Cache line.
PAGE = "\n".join(
    [
        "Active connections: 291 ",
        "server accepts handled requests",
        " 16630948 16630948 31070465 ",
        "Reading: 6 Writing: 179 Waiting: 106 ",
        "Cache: hits 26001 misses 5069",
        "",
    ]
)


async def test_the_cache_hit_ratio_is_read_from_a_live_stub_status_page() -> None:
    async def page(_request: web.Request) -> web.Response:
        return web.Response(text=PAGE)

    app = web.Application()
    app.router.add_get("/nginx_status", page)
    async with TestServer(app) as server, ClientSession() as session:
        status = await stubstatus.fetch(session, str(server.make_url("/nginx_status")))
    assert status.active == 291
    assert status.requests == 31070465
    assert status.cache_hit_ratio == pytest.approx(26001 / 31070)


def test_a_stock_page_has_no_ratio_rather_than_zero() -> None:
    stock = PAGE.rsplit("Cache:", 1)[0]
    assert stubstatus.parse(stock).cache_hit_ratio is None


def test_a_page_that_is_not_stub_status_is_refused() -> None:
    with pytest.raises(ValueError, match="not an nginx stub_status page"):
        stubstatus.parse("<html>502 Bad Gateway</html>")
