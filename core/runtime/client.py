"""Outgoing HTTP from services: one ClientSession per app, with timeouts, trace and request id.

Every request made through the session carries the current span's `traceparent` and the
incoming request's `X-Request-ID`, added by aiohttp's request/response trace hooks — so call
sites stay plain `session.get(...)` and cannot forget them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace

import aiohttp
from aiohttp import web

from meridian.core.runtime import middlewares, tracing

SESSION = web.AppKey("http_client", aiohttp.ClientSession)


async def _on_request_start(
    _session: aiohttp.ClientSession,
    _context: SimpleNamespace,
    params: aiohttp.TraceRequestStartParams,
) -> None:
    tracing.inject(params.headers)
    rid = middlewares.request_id.get()
    if rid and middlewares.REQUEST_ID_HEADER not in params.headers:
        params.headers[middlewares.REQUEST_ID_HEADER] = rid


def create_session(
    *, total: float = 10.0, connect: float = 2.0, connections: int = 100
) -> aiohttp.ClientSession:
    """Bounded waits: `connect` for the TCP/TLS handshake, `total` for the whole exchange;
    at most `connections` open at once (kept alive and reused)."""
    hooks = aiohttp.TraceConfig()
    hooks.on_request_start.append(_on_request_start)
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connections),
        timeout=aiohttp.ClientTimeout(total=total, connect=connect),
        trace_configs=[hooks],
        raise_for_status=False,
    )


def session_context(
    *, total: float = 10.0, connect: float = 2.0
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry: the session into `app[SESSION]`, closed at shutdown."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        session = create_session(total=total, connect=connect)
        app[SESSION] = session
        try:
            yield
        finally:
            await session.close()

    return context
