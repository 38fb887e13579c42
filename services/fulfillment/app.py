"""`create_app(settings)`: the kit's skeleton plus fulfillment's routes, consumer and relay.

Start-up order (cleanup_ctx; shutdown runs it backwards): migrations, the pool, the HTTP client
for the carrier, the label store, the AMQP connection and the `fulfillment.events` exchange, the
outbox relay, and last the consumer, so on shutdown the consumer stops taking messages first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from meridian.core import migrations
from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import client, db
from meridian.services.fulfillment import carrier, labels, openapi, routes, shipping
from meridian.services.fulfillment.settings import FulfillmentSettings
from meridian.services.kit import consumer, housekeeping, identity, messaging, outbox
from meridian.services.kit import openapi as kit_openapi

MIGRATIONS = Path(__file__).parent / "migrations"
FULFILLER = web.AppKey("fulfiller", shipping.Fulfiller)


def orders_topology(settings: FulfillmentSettings) -> messaging.Topology:
    return messaging.Topology(
        exchange=settings.orders_exchange,
        queue=settings.orders_queue,
        routing_keys=("order.confirmed",),
        retry_delay_ms=settings.retry_delay_ms,
    )


def create_app(settings: FulfillmentSettings) -> web.Application:
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
    dsn = settings.pg_dsn.get_secret_value()
    carrier_url, carrier_key = settings.carrier_url, settings.carrier_api_key.get_secret_value()

    async def migrate(_app: web.Application) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await migrations.upgrade(dsn, MIGRATIONS)
        yield

    async def events_exchange(app: web.Application) -> AsyncIterator[None]:
        """The relay publishes to an exchange that must exist (a missing one closes the channel)."""
        channel = await messaging.open_channel(app[messaging.CONNECTION])
        await messaging.declare_exchange(channel, settings.events_exchange)
        await channel.close()
        yield

    async def fulfiller(app: web.Application) -> AsyncIterator[None]:
        app[FULFILLER] = shipping.Fulfiller(
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

    async def handle(delivery: consumer.Delivery) -> None:
        await app[FULFILLER].handle(delivery)

    app = runtime_app.create(settings)
    identity.verifying(app, settings)
    app.cleanup_ctx.extend(
        [
            migrate,
            db.pool_context(settings),
            client.session_context(
                total=settings.carrier_timeout_s, connect=settings.carrier_connect_timeout_s
            ),
            labels.store_context(settings),
            messaging.connection_context(settings),
            events_exchange,
            fulfiller,
            outbox.relay_context(db.POOL, settings.amqp_url.get_secret_value(), name=settings.name),
            housekeeping.context(db.POOL, settings),
            consumer.consumer_context(
                orders_topology(settings), handle, prefetch=settings.amqp_prefetch
            ),
        ]
    )
    routes.add_routes(app)
    kit_openapi.route(app, openapi.description())
    return app
