"""`create_app(settings)`: the runtime's skeleton plus fulfillment's routes, consumer and relay.

Start-up order (cleanup_ctx; shutdown runs it backwards): migrations, the pool, the HTTP client
for the carrier, the label store, the AMQP connection and the `fulfillment.events` exchange, the
outbox relay, and last the consumer, so on shutdown the consumer stops taking messages first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import client, db
from meridian.services.fulfillment import (
    MIGRATIONS,
    carrier,
    consumers,
    labels,
    openapi,
    routes,
    shipping,
)
from meridian.services.fulfillment.settings import SETTINGS, Settings
from meridian.services.kit import openapi as kit_openapi
from meridian.services.kit.events import consumer, messaging, outbox
from meridian.services.kit.storage import database, housekeeping
from meridian.services.kit.trust import identity


def create_app(settings: Settings) -> web.Application:
    if (
        settings.pg_dsn is None
        or settings.amqp_url is None
        or settings.carrier_url is None
        or settings.carrier_api_key is None
    ):
        raise ValueError(
            "fulfillment needs MERIDIAN_FULFILLMENT_PG_DSN, _AMQP_URL, _CARRIER_URL and"
            " _CARRIER_API_KEY"
        )
    carrier_url, carrier_key = settings.carrier_url, settings.carrier_api_key.get_secret_value()

    async def fulfiller(app: web.Application) -> AsyncIterator[None]:
        app[consumers.FULFILLER] = shipping.Fulfiller(
            pool=app[db.POOL],
            carrier_client=carrier.Client(
                app[client.SESSION],
                base_url=carrier_url,
                api_key=carrier_key,
                attempts=settings.carrier_attempts,
                backoff_base=settings.carrier_backoff_base_s,
                backoff_cap=settings.carrier_backoff_cap_s,
            ),
            label_store=app[labels.STORE],
            settings=settings,
        )
        yield

    app = runtime_app.create(settings)
    app[SETTINGS] = settings
    identity.verifying(app, settings)
    app.cleanup_ctx.extend(
        [
            *database.contexts(settings, MIGRATIONS),
            client.session_context(
                total=settings.carrier_timeout_s, connect=settings.carrier_connect_timeout_s
            ),
            labels.store_context(settings),
            messaging.connection_context(settings),
            messaging.exchanges_context(settings.events_exchange),
            fulfiller,
            outbox.relay_context(db.POOL, settings.amqp_url.get_secret_value(), name=settings.name),
            housekeeping.context(db.POOL, settings),
            consumer.consumer_context(
                consumers.orders_topology(settings),
                consumers.order_handler(app),
                prefetch=settings.amqp_prefetch,
            ),
        ]
    )
    routes.add_routes(app)
    kit_openapi.route(app, openapi.description())
    return app
