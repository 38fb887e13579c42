"""`create_app(settings, certificate)`: the runtime's skeleton plus `POST /validate`.

Start-up order (`cleanup_ctx`): the Kubernetes client, the registry pool (lazy: it connects on the
first Tenant, so a registry outage never keeps the other policies from starting), the modes
refresher, the certificate reloader. `/readyz` is ready once the modes were read once.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import prometheus_client
from aiohttp import web

from meridian.core import kube
from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import db, periodic, problems
from meridian.core.runtime import logging as meridian_logging
from meridian.webhooks import evaluate, review, tls, verdict
from meridian.webhooks.settings import SETTINGS, Settings
from meridian.webhooks.world import World

log = meridian_logging.get_logger("meridian.webhooks.app")

WORLD = web.AppKey("world", World)
CERTIFICATE = web.AppKey("certificate", tls.ReloadingCertificate)
DECISIONS = web.AppKey("decisions", prometheus_client.Counter)
INTERNAL_ERROR = "meridian admission webhook: internal error while checking; see its log"


async def _body(request: web.Request) -> Any:
    """The JSON body; too big or not JSON is a 400 (the runtime's 413 sits far above)."""
    limit = request.app[SETTINGS].review_max_bytes
    if request.content_length is not None and request.content_length > limit:
        raise problems.BadRequest(f"body exceeds {limit} bytes")
    raw = await request.read()
    if len(raw) > limit:
        raise problems.BadRequest(f"body exceeds {limit} bytes")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise problems.BadRequest("body is not JSON") from None


async def validate(request: web.Request) -> web.Response:
    try:
        parsed = review.parse(await _body(request))
    except review.BadReview as error:
        raise problems.BadRequest(str(error)) from None
    world = request.app[WORLD]
    try:
        found = await evaluate.violations(parsed, world, request.app[SETTINGS])
    except Exception:
        # A bug of ours must not turn into a 5xx the apiserver reads as "webhook down": the
        # request is denied (as failurePolicy: Fail would) with a well-formed answer, and logged.
        log.exception("Admission check failed", kind=parsed.kind, uid=parsed.uid)
        return web.json_response(review.answer(parsed.uid, denials=[INTERNAL_ERROR], warnings=[]))
    decided = verdict.decide(found, world.modes)
    for policy, mode in decided.counted:
        request.app[DECISIONS].labels(policy=policy, mode=str(mode)).inc()
    if found:
        log.info(
            "Admission decided",
            kind=parsed.kind,
            object=f"{parsed.namespace}/{parsed.name}".lstrip("/"),
            denied=bool(decided.denials),
            policies=sorted({name for name, _ in decided.counted}),
        )
    return web.json_response(
        review.answer(parsed.uid, denials=decided.denials, warnings=decided.warnings)
    )


def create_app(settings: Settings, certificate: tls.ReloadingCertificate) -> web.Application:
    app = runtime_app.create(settings)
    app[SETTINGS] = settings
    app[CERTIFICATE] = certificate
    app[DECISIONS] = prometheus_client.Counter(
        "admission_violations",
        "Violations found at admission, by policy and the mode it was in (Enforce: denied)",
        ("policy", "mode"),
        registry=app[runtime_app.METRICS].registry,
    )

    async def world(app: web.Application) -> AsyncIterator[None]:
        client = kube.client(settings.kubeconfig, field_manager="meridian-webhooks")
        registry = None
        if settings.platform_dsn is not None:
            registry = await db.create_pool(
                settings.platform_dsn.get_secret_value(),
                application_name=settings.name,
                statement_timeout_ms=int(settings.lookup_timeout_s * 1000),
                min_size=0,
                max_size=4,
                connect_timeout_s=settings.lookup_timeout_s,
            )
        app[WORLD] = World(
            client, registry, settings.lookup_timeout_s, cache_ttl_s=settings.lookup_cache_s
        )
        read_once: list[bool] = []

        async def refresh() -> None:
            await app[WORLD].refresh_modes()
            read_once.append(True)

        async def modes_read() -> None:
            if not read_once:
                raise RuntimeError("the policy modes were not read yet")

        app[runtime_app.READINESS].add("policy-modes", modes_read)
        try:
            async with (
                periodic.running(
                    refresh,
                    every_s=settings.modes_refresh_s,
                    name="policy-modes",
                    failure="Policy modes not refreshed",
                ),
                periodic.running(
                    _reload(certificate),
                    every_s=settings.tls_reload_s,
                    name="certificate",
                    failure="Certificate not reloaded",
                    first_now=False,
                ),
            ):
                yield
        finally:
            if registry is not None:
                await registry.close()
            await client.close()

    app.cleanup_ctx.append(world)
    app.router.add_post("/validate", validate)
    return app


def _reload(certificate: tls.ReloadingCertificate) -> Any:
    async def reload() -> None:
        certificate.reload_if_changed()

    return reload
