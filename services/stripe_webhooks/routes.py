"""The webhook endpoint: verify, store, answer; processing happens apart (`processing`).

Stripe retries an event until it gets a 2xx, so 200 is answered only after the event is committed;
a database outage is a 503 (Stripe retries), never a 200 for an event we do not have. Refusals
are 400 problem+json with `reason` (the metric's label), logged with the event id when the body
is readable.
"""

from __future__ import annotations

import json
import time

import pydantic
from aiohttp import web

from meridian.core.runtime import db, problems
from meridian.core.runtime import logging as meridian_logging
from meridian.services.stripe_webhooks import (
    endpoint_secrets,
    meters,
    models,
    processing,
    signature,
    store,
)
from meridian.services.stripe_webhooks.settings import SETTINGS

log = meridian_logging.get_logger("meridian.services.stripe_webhooks.routes")

PATH = "/v1/stripe/webhooks"
SECRETS = web.AppKey("stripe_signing_secrets", endpoint_secrets.Secrets)


def _readable_id(payload: bytes) -> str | None:
    """The event id, if the body is JSON with one: for the log line of a refusal."""
    try:
        found = json.loads(payload).get("id")
    except (ValueError, AttributeError):
        return None
    return found[:255] if isinstance(found, str) else None


def _refuse(request: web.Request, reason: str, message: str, payload: bytes) -> problems.Problem:
    request.app[meters.METERS].refused.labels(reason=reason).inc()
    log.warning(
        "Refused a Stripe webhook request",
        reason=reason,
        event_id=_readable_id(payload),
        detail=message,
    )
    return problems.BadRequest(message, reason=reason)


async def receive(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    payload = await request.read()
    try:
        signature.verify(
            payload,
            request.headers.get(signature.HEADER),
            request.app[SECRETS].accepted(),
            now=time.time(),
            tolerance_s=settings.tolerance_s,
        )
    except signature.Refused as refused:
        raise _refuse(request, refused.reason, str(refused), payload) from None
    try:
        event = models.StripeEventBody.model_validate_json(payload)
    except pydantic.ValidationError as error:
        refusal = _refuse(request, "malformed_body", "The body is not a Stripe event", payload)
        refusal.extensions["errors"] = [
            problems.FieldError(problems.json_pointer(e["loc"]), e["msg"])._asdict()
            for e in error.errors(include_url=False)
        ]
        raise refusal from None
    async with store.transaction(request.app[db.POOL], settings.db_role) as connection:
        stored = await store.receive(connection, event, payload)
    request.app[meters.METERS].received.labels(outcome="stored" if stored else "duplicate").inc()
    if stored:
        request.app[processing.PROCESSOR].wake.set()
    else:
        log.info("Received a Stripe event again", event_id=event.id, type=event.type)
    return web.json_response(
        text=models.Receipt(id=event.id, duplicate=not stored).model_dump_json()
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post(PATH, receive)
