"""The gateway's one route: every path, matched against the route table, checked, forwarded.

`handle` routes by prefix (404 when none matches); for a non-public route it verifies the bearer
JWT, asks the limiter, and replaces the client's `Authorization` and identity headers with an
internal token it signs for the upstream (`identity.forward`); then it streams the request
upstream (`proxy.forward`). Its own share of the latency goes to `OVERHEAD`.
"""

from __future__ import annotations

import time

import prometheus_client
from aiohttp import web

from meridian.core.runtime import client, problems
from meridian.services.gateway import jwks, metering, proxy, ratelimit
from meridian.services.gateway.settings import SETTINGS
from meridian.services.kit import contracts
from meridian.services.kit.trust import identity, signing, tokens

ROUTES = web.AppKey("routes", proxy.RouteTable)
LIMITER = web.AppKey("limiter", ratelimit.Limiter)
OVERHEAD = web.AppKey("overhead", prometheus_client.Histogram)
# The seed's SLO is gateway-added p99 < 15 ms: buckets resolve the milliseconds around it.
OVERHEAD_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1)


def _unauthorized(detail: str) -> problems.Unauthorized:
    problem = problems.Unauthorized(detail)
    problem.extra_headers["WWW-Authenticate"] = 'Bearer realm="meridian"'
    return problem


async def _authenticate(request: web.Request) -> contracts.AccessClaims:
    settings = request.app[SETTINGS]
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("A bearer token is required")
    token = token.strip()
    verified = request.app[jwks.VERIFIED]
    if (known := verified.get(token)) is not None:
        return known
    try:
        keys = request.app[jwks.JWKS]
        kid = tokens.kid_of(token)
        key = await keys.key(kid)
        if key is None:
            raise tokens.InvalidToken("The token is signed by an unknown key")
        claims: contracts.AccessClaims = tokens.verify(
            token, key, issuer=settings.issuer, leeway=settings.clock_skew_s
        )
        verified.put(token, keys, kid, key, claims)
        return claims
    except tokens.InvalidToken as error:
        raise _unauthorized(f"Invalid token: {error}") from error


async def handle(request: web.Request) -> web.StreamResponse:
    started = time.perf_counter()
    route = request.app[ROUTES].match(request.path)
    if route is None:
        raise problems.NotFound(f"No service serves {request.path}")
    headers: dict[str, str] = {}
    caller: identity.Identity | None = None
    if not route.public:
        claims = await _authenticate(request)
        verdict = await request.app[LIMITER].admit(claims)
        if verdict.revoked:
            raise _unauthorized("Invalid token: revoked")
        if not verdict.allowed:
            raise problems.TooManyRequests(
                verdict.retry_after, "The tenant's request rate limit is exhausted"
            )
        caller = identity.Identity(claims.tenant_id, claims.sub, frozenset(claims.scopes))
        headers = identity.forward(request.app[signing.SIGNER], caller, audience=route.audience)
    request.app[OVERHEAD].labels(route=route.prefix).observe(time.perf_counter() - started)
    response = await proxy.forward(request, request.app[client.SESSION], route, headers)
    meter = request.app.get(metering.METER)
    if caller is not None and meter is not None:  # the upstream answered: billable
        meter.count(caller.tenant_id, request.method, request.path, response.status)
    return response


def add_routes(app: web.Application) -> None:
    app.router.add_route("*", "/{path:.*}", handle)
