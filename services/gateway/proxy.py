"""Routing by path prefix and the streaming proxy to the upstream services.

Requests go upstream over the app's one `kit.client` session (keep-alive pool; it adds the
traceparent of the gateway's span and the request id). Bodies stream both ways; a small answer
with a Content-Length is read whole and returned in one write, which is cheaper. Hop-by-hop
headers stop here (RFC 9110 §7.6.1) and so do client-sent identity and trace headers. On a route
that needs a token, the client's `Authorization` is replaced by the internal token the gateway
signed for the upstream (`identity.forward`): the user's token never travels further.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import NamedTuple

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from meridian.core.runtime import logging as meridian_logging
from meridian.core.runtime import middlewares, problems
from meridian.services.gateway.settings import Settings
from meridian.services.kit import contracts

log = meridian_logging.get_logger("meridian.services.gateway.proxy")

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# Never forwarded as the client sent them: the gateway sets each one itself.
REPLACED = frozenset(
    {
        "host",
        "traceparent",
        "tracestate",
        middlewares.REQUEST_ID_HEADER.lower(),
        *(name.lower() for name in contracts.IDENTITY_HEADERS),
    }
)
BUFFERED_RESPONSE_MAX = 1 << 20
UNREACHABLE_RETRY_AFTER_S = 1
CHUNK = 1 << 16


class BadGateway(problems.Problem):
    status = 502
    title = "Bad Gateway"


class GatewayTimeout(problems.Problem):
    status = 504
    title = "Gateway Timeout"


class Route(NamedTuple):
    prefix: str
    base: str  # the upstream's URL without a trailing slash; the request's path is appended
    timeout: aiohttp.ClientTimeout
    public: bool
    audience: str  # the upstream service's name, for its internal token


class RouteTable:
    """Longest prefix first; a prefix matches whole segments (`/v1/orders` not `/v1/ordersx`)."""

    def __init__(self, settings: Settings) -> None:
        routes = []
        for prefix, upstream in settings.routes.items():
            prefix = "/" + prefix.strip("/")
            public = upstream.public
            if public is None:
                public = any(_within(prefix, p) for p in settings.public_prefixes)
            routes.append(
                Route(
                    prefix=prefix,
                    base=str(upstream.url).rstrip("/"),
                    timeout=aiohttp.ClientTimeout(
                        total=upstream.timeout_s or settings.upstream_timeout_s,
                        connect=settings.upstream_connect_timeout_s,
                    ),
                    public=public,
                    audience=upstream.audience or prefix.rsplit("/", 1)[-1],
                )
            )
        self.routes = sorted(routes, key=lambda route: len(route.prefix), reverse=True)

    def match(self, path: str) -> Route | None:
        return next((route for route in self.routes if _within(path, route.prefix)), None)


def _within(path: str, prefix: str) -> bool:
    prefix = prefix.rstrip("/")
    return path == prefix or path.startswith(prefix + "/") or prefix == ""


def _connection_listed(headers: Mapping[str, str]) -> set[str]:
    """Headers named in `Connection:` are hop-by-hop too."""
    return {
        name.strip().lower() for name in headers.get("Connection", "").split(",") if name.strip()
    }


def upstream_headers(request: web.Request, identity: Mapping[str, str]) -> CIMultiDict[str]:
    dropped = HOP_BY_HOP | REPLACED | _connection_listed(request.headers)
    headers = CIMultiDict(
        (name, value) for name, value in request.headers.items() if name.lower() not in dropped
    )
    peer = request.remote or ""
    earlier = request.headers.get("X-Forwarded-For")
    headers["X-Forwarded-For"] = f"{earlier}, {peer}" if earlier else peer
    headers["X-Forwarded-Proto"] = request.scheme
    headers["X-Forwarded-Host"] = request.host
    rid = middlewares.request_id.get()
    if rid:
        headers[middlewares.REQUEST_ID_HEADER] = rid
    headers.update(identity)
    return headers


def _response_headers(upstream: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    dropped = HOP_BY_HOP | _connection_listed(upstream) | {"content-length"}
    return CIMultiDict(
        (name, value) for name, value in upstream.items() if name.lower() not in dropped
    )


async def forward(
    request: web.Request,
    session: aiohttp.ClientSession,
    route: Route,
    identity: Mapping[str, str],
) -> web.StreamResponse:
    url = URL(route.base + request.raw_path, encoded=True)
    data = request.content if request.body_exists else None
    try:
        upstream = await session.request(
            request.method,
            url,
            headers=upstream_headers(request, identity),
            data=data,
            timeout=route.timeout,
            allow_redirects=False,
            auto_decompress=False,
        )
    except TimeoutError as error:
        raise GatewayTimeout(
            f"The upstream for {route.prefix} did not answer in time; it may have acted on the "
            "request (retry with the same Idempotency-Key)"
        ) from error
    except aiohttp.ClientConnectorError as error:
        # No connection was made, so nothing was sent: a retry is safe whatever the method.
        log.warning("Upstream unreachable", prefix=route.prefix, error=str(error))
        raise problems.ServiceUnavailable(
            f"The upstream for {route.prefix} cannot be reached; the request was not sent",
            retry_after=UNREACHABLE_RETRY_AFTER_S,
        ) from error
    except aiohttp.ClientError as error:
        log.warning("Upstream broke off before answering", prefix=route.prefix, error=str(error))
        raise BadGateway(
            f"The upstream for {route.prefix} broke off before answering; it may have acted on "
            "the request (retry with the same Idempotency-Key)"
        ) from error
    async with upstream:
        headers = _response_headers(upstream.headers)
        length = upstream.content_length
        if length is not None and length <= BUFFERED_RESPONSE_MAX:
            try:
                body = await upstream.read()
            except TimeoutError as error:
                raise GatewayTimeout(f"The upstream for {route.prefix} timed out") from error
            except aiohttp.ClientError as error:
                raise BadGateway(f"The upstream for {route.prefix} broke off") from error
            return web.Response(
                status=upstream.status, reason=upstream.reason, body=body, headers=headers
            )
        response = web.StreamResponse(
            status=upstream.status, reason=upstream.reason, headers=headers
        )
        await response.prepare(request)
        try:
            async for chunk in upstream.content.iter_chunked(CHUNK):
                await response.write(chunk)
        except (TimeoutError, aiohttp.ClientError, asyncio.IncompleteReadError) as error:
            # Headers are gone already: the only honest signal left is a cut connection.
            log.warning("Upstream broke off mid-answer", prefix=route.prefix, error=str(error))
            if request.transport is not None:
                request.transport.close()
            return response
        await response.write_eof()
        return response
