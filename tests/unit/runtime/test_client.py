"""Outgoing calls carry the caller's trace and request id without the call site adding them."""

from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import client
from meridian.services.kit.settings import ServiceSettings


async def echo_headers(request: web.Request) -> web.Response:
    return web.json_response(dict(request.headers))


async def test_outgoing_request_carries_traceparent_and_request_id() -> None:
    upstream = web.Application()
    upstream.router.add_get("/echo", echo_headers)
    async with TestServer(upstream) as upstream_server:
        app = runtime_app.create(ServiceSettings(name="gateway"))
        app.cleanup_ctx.append(client.session_context(total=5))

        async def proxy(request: web.Request) -> web.Response:
            session = request.app[client.SESSION]
            async with session.get(upstream_server.make_url("/echo")) as response:
                return web.json_response(await response.json())

        app.router.add_get("/proxy", proxy)
        async with TestClient(TestServer(app)) as test_client:
            traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            response = await test_client.get(
                "/proxy", headers={"X-Request-ID": "r-42", "traceparent": traceparent}
            )
            seen = await response.json()
    assert seen["X-Request-ID"] == "r-42"
    version, trace_id, parent_id, flags = seen["traceparent"].split("-")
    assert trace_id == "4bf92f3577b34da6a3ce929d0e0e4736"  # same trace ...
    assert parent_id != "00f067aa0ba902b7"  # ... continued from our server span
    assert (version, flags) == ("00", "01")


async def test_session_has_bounded_timeouts() -> None:
    session = client.create_session(total=3, connect=1)
    try:
        assert (session.timeout.total, session.timeout.connect) == (3, 1)
    finally:
        await session.close()
