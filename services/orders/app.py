"""Orders' app factory: the runtime's skeleton, migrations, pool, inventory client behind its
breaker, the shipments consumer, the outbox relay and the sweeper."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import client, db, resilience
from meridian.services.kit import contracts
from meridian.services.kit import openapi as kit_openapi
from meridian.services.kit.events import consumer, messaging, outbox
from meridian.services.kit.storage import database, housekeeping
from meridian.services.kit.trust import identity, signing
from meridian.services.orders import (
    MIGRATIONS,
    consumers,
    flow,
    inventory,
    openapi,
    routes,
    sweeper,
)
from meridian.services.orders.settings import SETTINGS, Settings


def create_app(settings: Settings) -> web.Application:
    if settings.amqp_url is None:
        raise ValueError("orders: amqp_url is not configured")
    relay_url = (settings.relay_amqp_url or settings.amqp_url).get_secret_value()
    app = runtime_app.create(settings)
    app[SETTINGS] = settings
    identity.verifying(app, settings)
    signing.signing(app, settings)

    async def order_flow(app: web.Application) -> AsyncIterator[None]:
        breaker = resilience.CircuitBreaker(
            "inventory",
            failure_threshold=settings.breaker_failures,
            open_for=settings.breaker_open_s,
            failures=(inventory.Failed,),
            on_change=app[runtime_app.METRICS].breaker_changed,
        )
        client_ = inventory.Inventory(
            app[client.SESSION],
            settings.inventory_url,
            breaker,
            signer=app[signing.SIGNER],
            timeout=settings.inventory_timeout_s,
            attempts=settings.inventory_attempts,
        )
        app[routes.FLOW] = flow.Context(app[db.POOL], settings.db_role, client_)
        yield

    app.cleanup_ctx.extend(
        [
            *database.contexts(settings, MIGRATIONS),
            client.session_context(total=settings.inventory_timeout_s),
            order_flow,
            messaging.connection_context(settings),
            messaging.exchanges_context(contracts.ORDERS_EXCHANGE),
            outbox.relay_context(db.POOL, relay_url, name="orders"),
            housekeeping.context(db.POOL, settings),
            consumer.consumer_context(
                consumers.shipments_topology(settings),
                consumers.shipment_handler(app, settings),
                prefetch=settings.amqp_prefetch,
            ),
            sweeper.sweeper_context(settings),
        ]
    )
    routes.add_routes(app)
    kit_openapi.route(app, openapi.description())
    return app
