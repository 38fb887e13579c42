"""`create_app(settings)`: the runtime's skeleton plus the webhook endpoint and its processor.

Start-up order (cleanup_ctx; shutdown runs it backwards): migrations, the pool, the AMQP
connection and the `stripe.events` exchange, the outbox relay, housekeeping, and last the
processor, so on shutdown it stops first and leaves nothing half-done.
"""

from __future__ import annotations

from aiohttp import web

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import db
from meridian.services.kit import openapi as kit_openapi
from meridian.services.kit.events import messaging, outbox
from meridian.services.kit.storage import database, housekeeping
from meridian.services.stripe_webhooks import (
    MIGRATIONS,
    endpoint_secrets,
    meters,
    openapi,
    processing,
    routes,
)
from meridian.services.stripe_webhooks.settings import SETTINGS, Settings


def create_app(settings: Settings) -> web.Application:
    if settings.pg_dsn is None or settings.amqp_url is None or settings.signing_secret_file is None:
        raise ValueError(
            "stripe-webhooks needs MERIDIAN_STRIPE_WEBHOOKS_PG_DSN, _AMQP_URL and"
            " _SIGNING_SECRET_FILE"
        )
    app = runtime_app.create(settings)
    app[SETTINGS] = settings
    secrets = endpoint_secrets.Secrets(
        settings.signing_secret_file, settings.previous_signing_secret_file
    )
    app[routes.SECRETS] = secrets
    app[runtime_app.READINESS].add("signing-secret", secrets.check)
    meters.install(app)
    app.cleanup_ctx.extend(
        [
            *database.contexts(settings, MIGRATIONS),
            messaging.connection_context(settings),
            messaging.exchanges_context(settings.events_exchange),
            outbox.relay_context(db.POOL, settings.amqp_url.get_secret_value(), name=settings.name),
            housekeeping.context(db.POOL, settings),
            processing.context(settings),
        ]
    )
    routes.add_routes(app)
    kit_openapi.route(app, openapi.description())
    return app
