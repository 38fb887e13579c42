"""`create_app(settings)`: the runtime's skeleton plus billing's routes, the usage flusher,
the invoice reporter and the period closer.

Start-up order (cleanup_ctx; shutdown runs it backwards): migrations, the pool, the registry's
pool, Redis, the usage flusher, the invoice reporter, the period closer, the suspender, the AMQP
connection, housekeeping, and last the consumer of Stripe's events, so on shutdown it stops taking messages
first and the loops stop before the pools close.
"""

from __future__ import annotations

from aiohttp import web

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import cache, db
from meridian.services.billing import (
    MIGRATIONS,
    closing,
    consumers,
    invoicing,
    openapi,
    payments,
    registry,
    routes,
    usage,
)
from meridian.services.billing.settings import SETTINGS, Settings
from meridian.services.kit import contracts
from meridian.services.kit import openapi as kit_openapi
from meridian.services.kit.events import consumer, messaging
from meridian.services.kit.storage import database, housekeeping
from meridian.services.kit.trust import identity


def create_app(settings: Settings) -> web.Application:
    if (
        settings.pg_dsn is None
        or settings.redis_url is None
        or settings.platform_dsn is None
        or settings.stripe_api_key is None
        or settings.amqp_url is None
    ):
        raise ValueError(
            "billing needs MERIDIAN_BILLING_PG_DSN, _REDIS_URL, _PLATFORM_DSN, _STRIPE_API_KEY"
            " and _AMQP_URL"
        )
    unpriced = set(contracts.PRODUCTS) - set(settings.unit_prices_cents)
    if unpriced:
        raise ValueError(f"billing: unit_prices_cents has no price for {sorted(unpriced)}")
    app = runtime_app.create(settings)
    app[SETTINGS] = settings
    identity.verifying(app, settings)
    app.cleanup_ctx.extend(
        [
            *database.contexts(settings, MIGRATIONS),
            registry.context(settings),
            cache.client_context(settings),
            usage.context(settings),
            invoicing.context(settings),
            closing.context(settings),
            payments.context(settings),
            messaging.connection_context(settings),
            housekeeping.context(db.POOL, settings),
            consumer.consumer_context(
                consumers.stripe_topology(settings),
                consumers.stripe_handler(app, settings),
                prefetch=settings.amqp_prefetch,
            ),
        ]
    )
    routes.add_routes(app)
    kit_openapi.route(app, openapi.description())
    return app
