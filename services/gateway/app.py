"""The gateway's app factory: the kit's skeleton, the upstream session, JWKS, Redis, the proxy."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import prometheus_client
from aiohttp import web

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import cache, client, db, problems
from meridian.services.gateway import jwks, proxy, ratelimit
from meridian.services.gateway.settings import GatewaySettings
from meridian.services.kit import contracts, identity, signing, tokens

ROUTES = web.AppKey("routes", proxy.RouteTable)
LIMITER = web.AppKey("limiter", ratelimit.Limiter)
OVERHEAD = web.AppKey("overhead", prometheus_client.Histogram)
# The seed's SLO is gateway-added p99 < 15 ms: buckets resolve the milliseconds around it.
OVERHEAD_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1)

OPENAPI = {
    "openapi": "3.1.0",
    "info": {
        "title": "Meridian gateway",
        "version": "1.0.0",
        "description": "Routes /v1/<service>/... to the services (see each one's /openapi.json) "
        "after checking the bearer JWT and the tenant's rate limit. Errors are problem+json: "
        "401 without a valid token, 429 with Retry-After; 503 with Retry-After when the upstream "
        "cannot be reached (nothing was sent), 502 when it broke off and 504 when it timed out "
        "(it may have acted: retry with the same Idempotency-Key).",
    },
    "paths": {},
}


def _unauthorized(detail: str) -> problems.Unauthorized:
    problem = problems.Unauthorized(detail)
    problem.extra_headers["WWW-Authenticate"] = 'Bearer realm="meridian"'
    return problem


async def _authenticate(request: web.Request) -> contracts.AccessClaims:
    settings = request.app[runtime_app.SETTINGS]
    assert isinstance(settings, GatewaySettings)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("A bearer token is required")
    token = token.strip()
    try:
        key = await request.app[jwks.JWKS].key(tokens.kid_of(token))
        if key is None:
            raise tokens.InvalidToken("The token is signed by an unknown key")
        return tokens.verify(token, key, issuer=settings.issuer, leeway=settings.clock_skew_s)
    except tokens.InvalidToken as error:
        raise _unauthorized(f"Invalid token: {error}") from error


async def handle(request: web.Request) -> web.StreamResponse:
    started = time.perf_counter()
    route = request.app[ROUTES].match(request.path)
    if route is None:
        raise problems.NotFound(f"No service serves {request.path}")
    headers: dict[str, str] = {}
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
    return await proxy.forward(request, request.app[client.SESSION], route, headers)


def create_app(settings: GatewaySettings) -> web.Application:
    app = runtime_app.create(settings)
    app[ROUTES] = proxy.RouteTable(settings)
    app[OVERHEAD] = prometheus_client.Histogram(
        "meridian_gateway_overhead_seconds",
        "Time from the gateway taking a request to sending it upstream (routing, token check, "
        "rate limit), by route: the latency the gateway adds, which the seed bounds at p99 15 ms",
        ("route",),
        buckets=OVERHEAD_BUCKETS,
        registry=app[runtime_app.METRICS].registry,
    )

    async def upstream_session(app: web.Application) -> AsyncIterator[None]:
        # One keep-alive pool for every upstream; each route sets its own timeout per request.
        session = client.create_session(
            total=settings.upstream_timeout_s,
            connect=settings.upstream_connect_timeout_s,
            connections=settings.upstream_connections,
        )
        app[client.SESSION] = session
        try:
            yield
        finally:
            await session.close()

    async def limiter(app: web.Application) -> AsyncIterator[None]:
        pool = app.get(db.POOL)
        app[LIMITER] = ratelimit.Limiter(
            app[cache.CLIENT], pool, settings, app[runtime_app.METRICS]
        )
        yield

    contexts = [upstream_session, jwks.jwks_context(settings), cache.client_context(settings)]
    if settings.pg_dsn is not None:  # the registry, for limits the operator has not cached
        contexts.append(db.pool_context(settings))
    app.cleanup_ctx.extend([*contexts, limiter])

    async def openapi_json(_request: web.Request) -> web.Response:
        return web.json_response(OPENAPI)

    app.router.add_get("/openapi.json", openapi_json)
    signing.signing(app, settings)  # the proof it forwards, and its JWKS for the services
    app.router.add_route("*", "/{path:.*}", handle)
    return app
