"""The application skeleton every service's `create_app(settings)` starts from, and `run`.

`create(settings)` returns a `web.Application` that already has the runtime's middlewares, the probes
(`/healthz`: the process answers; `/readyz`: every registered readiness check passes and we are not
draining), `/metrics`, a tracer, and its state under typed `web.AppKey`s. A service adds its
routes, readiness checks and `cleanup_ctx` entries (pools, consumers, relays) and returns it.

Shutdown order (`Server.stop`, run on SIGTERM/SIGINT): readiness turns 503 first and stays so for
`drain_delay_s` while the listener still answers, so Kubernetes removes the pod from its endpoints
before connections are refused; then the listener closes, in-flight requests get up to
`shutdown_timeout_s` to finish, and last `cleanup_ctx` closes consumers and pools in reverse order.
"""

from __future__ import annotations

import asyncio
import signal
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TypeVar

import uvloop
from aiohttp import web
from opentelemetry import trace
from pydantic import SecretStr

from meridian.core.runtime import logging as meridian_logging
from meridian.core.runtime import metrics, middlewares, problems, tracing
from meridian.core.runtime.settings import ProcessSettings, ServerSettings

Check = Callable[[], Awaitable[object]]
"""A readiness check: returns when the dependency is usable, raises (or times out) when not."""

log = meridian_logging.get_logger("meridian.core.runtime.app")

T = TypeVar("T")
CleanupContext = Callable[[web.Application], AsyncIterator[None]]
"""An `app.cleanup_ctx` entry: sets up before the first request, tears down after the last."""


class Readiness:
    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.checks: dict[str, Check] = {}
        self.draining = False

    def add(self, name: str, check: Check) -> None:
        if name in self.checks:
            raise ValueError(f"Readiness check {name!r} is already registered")
        self.checks[name] = check

    async def failures(self) -> dict[str, str]:
        """Every check run concurrently; name -> reason for each one that failed."""

        async def one(check: Check) -> str | None:
            try:
                await asyncio.wait_for(check(), self.timeout)
            except TimeoutError:
                return f"no answer within {self.timeout}s"
            except Exception as error:
                return f"{type(error).__name__}: {error}"[:200]
            return None

        names = list(self.checks)
        results = await asyncio.gather(*(one(self.checks[n]) for n in names))
        return {name: reason for name, reason in zip(names, results, strict=True) if reason}


SETTINGS = web.AppKey("settings", ServerSettings)
METRICS = web.AppKey("metrics", metrics.Metrics)
READINESS = web.AppKey("readiness", Readiness)
TRACER = web.AppKey("tracer", trace.Tracer)


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _readyz(request: web.Request) -> web.Response:
    readiness = request.app[READINESS]
    if readiness.draining:
        raise problems.ServiceUnavailable("Shutting down", failing_checks=[])
    failed = await readiness.failures()
    if failed:
        raise problems.ServiceUnavailable(
            f"Not ready: {', '.join(sorted(failed))}", failing_checks=sorted(failed), checks=failed
        )
    return web.json_response({"status": "ready", "checks": sorted(readiness.checks)})


async def _metrics(request: web.Request) -> web.Response:
    return metrics.render(request.app[METRICS])


def create(settings: ServerSettings) -> web.Application:
    provider = tracing.create_provider(
        settings.name, exporter=settings.otel_exporter, sample_ratio=settings.otel_sample_ratio
    )
    tracer = provider.get_tracer(tracing.INSTRUMENTATION)
    app_metrics = metrics.create()
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[
            middlewares.observe(app_metrics, tracer),
            middlewares.problem_json,
            middlewares.shed(settings.max_in_flight, app_metrics),
        ],
    )
    app[SETTINGS] = settings
    app[METRICS] = app_metrics
    app[READINESS] = Readiness(settings.readiness_timeout_s)
    app[TRACER] = tracer

    async def tracer_provider(_app: web.Application) -> AsyncIterator[None]:
        yield
        provider.shutdown()  # first in cleanup_ctx, so closed last: spans of cleanup are kept

    app.cleanup_ctx.append(tracer_provider)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", _readyz)
    app.router.add_get("/metrics", _metrics)
    return app


def required(settings: ProcessSettings, secret: SecretStr | None, what: str) -> str:
    """The value of a setting a dependency cannot run without, or a start-up error naming it."""
    if secret is None:
        raise ValueError(f"{settings.name}: {what} is not configured")
    return secret.get_secret_value()


def dependency(
    key: web.AppKey[T],
    *,
    check: str,
    create: Callable[[], Awaitable[T]],
    close: Callable[[T], Awaitable[object]],
    ping: Callable[[T], Awaitable[object]],
) -> CleanupContext:
    """A `cleanup_ctx` entry for a client the app shares (a pool, a connection): opened into
    `app[key]` before the first request, its readiness `check` registered, closed at shutdown.
    One shape for every dependency, so each is ready-checked and closed the same way."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        resource = await create()
        app[key] = resource
        app[READINESS].add(check, lambda: ping(resource))
        try:
            yield
        finally:
            await close(resource)

    return context


class Server:
    """One app served on settings.host:port (port 0 picks a free one; see `url`); over TLS when
    given an `ssl_context` (the admission webhooks: the apiserver calls only https)."""

    def __init__(
        self,
        app: web.Application,
        settings: ServerSettings,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.app = app
        self.settings = settings
        self.ssl_context = ssl_context
        # access_log=None: `middlewares.observe` writes the access log, as JSON with our ids.
        self.runner = web.AppRunner(
            app, access_log=None, shutdown_timeout=settings.shutdown_timeout_s
        )
        self.url = ""

    async def start(self) -> str:
        await self.runner.setup()
        site = web.TCPSite(
            self.runner, self.settings.host, self.settings.port, ssl_context=self.ssl_context
        )
        await site.start()
        host, port = self.runner.addresses[0][:2]
        scheme = "https" if self.ssl_context else "http"
        self.url = f"{scheme}://{host}:{port}"
        log.info("Service started", service=self.settings.name, url=self.url)
        return self.url

    async def stop(self) -> None:
        self.app[READINESS].draining = True
        log.info("Service draining", service=self.settings.name)
        await asyncio.sleep(self.settings.drain_delay_s)
        await self.runner.cleanup()
        log.info("Service stopped", service=self.settings.name)


async def serve(
    app: web.Application, settings: ServerSettings, ssl_context: ssl.SSLContext | None = None
) -> None:
    """Serve until SIGTERM or SIGINT, then stop gracefully (see the module docstring)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = Server(app, settings, ssl_context)
    try:
        await server.start()
        await stop.wait()
    finally:
        await server.stop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def run(
    app: web.Application, settings: ServerSettings, ssl_context: ssl.SSLContext | None = None
) -> None:
    """What a service's `__main__` calls: JSON logs configured, then `serve` until signalled,
    on uvloop (libuv's loop: less CPU per request than asyncio's selector loop)."""
    meridian_logging.configure(settings.log_level, settings.log_json)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(app, settings, ssl_context))
