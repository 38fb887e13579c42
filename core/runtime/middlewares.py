"""The middlewares every service runs, outermost first: `observe`, `problem_json`, `shed`.

`observe` gives each request an id (the caller's `X-Request-ID` when it is sane), continues the
caller's trace in a server span, binds both ids into structlog's context so every log line of the
request carries them, and records the access log line and the metrics after the response is
final. `problem_json` is the one place where exceptions become HTTP answers. `shed` refuses
what is beyond the service's capacity before any work starts.
"""

from __future__ import annotations

import asyncio
import contextvars
import re
import time
import uuid

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from opentelemetry import trace

from meridian.core.runtime import logging as meridian_logging
from meridian.core.runtime import metrics, problems, tracing

REQUEST_ID_HEADER = "X-Request-ID"
# Opaque ids from proxies and clients are kept when they cannot smuggle anything into logs.
_SANE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
# The current request's id, for outgoing calls (`client`) and messages to forward.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
# Probes and scrapes are logged at debug: they would otherwise drown the access log.
QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})

access_log = meridian_logging.get_logger("meridian.access")
error_log = meridian_logging.get_logger("meridian.errors")


def _request_id(request: web.Request) -> str:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    return incoming if _SANE_ID.match(incoming) else uuid.uuid4().hex


def observe(metrics_: metrics.Metrics, tracer: trace.Tracer) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        rid = _request_id(request)
        token = request_id.set(rid)
        route = metrics.route_of(request)
        status, trace_hex = 500, None
        try:
            with tracing.continued_span(
                tracer,
                f"{request.method} {route}",
                request.headers,
                kind=trace.SpanKind.SERVER,
                attributes={"http.request.method": request.method, "url.path": request.path},
            ) as span:
                trace_hex = tracing.trace_id()
                with structlog.contextvars.bound_contextvars(request_id=rid, trace_id=trace_hex):
                    try:
                        response = await handler(request)
                    except web.HTTPException as redirect:  # problem_json answers every 4xx/5xx
                        status = redirect.status
                        raise
                    status = response.status
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(trace.StatusCode.ERROR)
                    response.headers[REQUEST_ID_HEADER] = rid
                    return response
        finally:
            elapsed = time.perf_counter() - started
            metrics_.observe(route=route, method=request.method, status=status, seconds=elapsed)
            log = access_log.debug if route in QUIET_ROUTES else access_log.info
            log(
                "Request handled",
                method=request.method,
                path=request.path,
                route=route,
                status=status,
                duration_ms=round(elapsed * 1000, 2),
                request_id=rid,
                trace_id=trace_hex,
            )
            request_id.reset(token)

    return middleware


SHED_RETRY_AFTER_S = 1


def shed(limit: int, metrics_: metrics.Metrics) -> Middleware:
    """At most `limit` requests in the handlers at once; the next gets 503 with Retry-After.

    Probes and scrapes always pass: an overloaded replica is still alive, and must say so.
    """
    in_flight = 0

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        nonlocal in_flight
        if request.path in QUIET_ROUTES:
            return await handler(request)
        if in_flight >= limit:
            metrics_.shed.inc()
            raise problems.ServiceUnavailable(
                f"Overloaded: {limit} requests in progress; retry shortly",
                retry_after=SHED_RETRY_AFTER_S,
            )
        in_flight += 1
        try:
            return await handler(request)
        finally:
            in_flight -= 1

    return middleware


@web.middleware
async def problem_json(request: web.Request, handler: Handler) -> web.StreamResponse:
    problem: problems.Problem
    try:
        if request.content_length is not None and request.content_length > request.client_max_size:
            raise problems.PayloadTooLarge(f"The body exceeds {request.client_max_size} bytes")
        return await handler(request)
    except problems.Problem as raised:
        problem = raised
    except web.HTTPException as raised:
        if raised.status < 400:
            raise
        problem = problems.from_http_exception(raised)
    except asyncio.CancelledError:
        raise
    except Exception:
        # The traceback goes to our logs, never to the client.
        error_log.exception("Unhandled exception", method=request.method, path=request.path)
        problem = problems.InternalError()
    if rid := request_id.get():
        problem.extensions.setdefault("request_id", rid)
    return problem.response(instance=request.path)
