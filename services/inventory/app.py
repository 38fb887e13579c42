"""Inventory's app factory: the runtime's skeleton, its migrations, pool, Redis, consumer and relay."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import cache, db
from meridian.services.inventory import MIGRATIONS, consumers, openapi, routes, stockcache
from meridian.services.inventory.settings import SETTINGS, Settings
from meridian.services.kit import contracts
from meridian.services.kit import openapi as kit_openapi
from meridian.services.kit.events import consumer, messaging, outbox
from meridian.services.kit.storage import database, housekeeping
from meridian.services.kit.trust import identity


def create_app(settings: Settings) -> web.Application:
    if settings.amqp_url is None:
        raise ValueError("inventory: amqp_url is not configured")
    app = runtime_app.create(settings)
    app[SETTINGS] = settings
    identity.verifying(app, settings)

    async def stock_cache(app: web.Application) -> AsyncIterator[None]:
        app[routes.CACHE] = stockcache.StockCache(app[cache.CLIENT], ttl_s=settings.cache_ttl_s)
        yield

    app.cleanup_ctx.extend(
        [
            *database.contexts(settings, MIGRATIONS),
            cache.client_context(settings),
            stock_cache,
            messaging.connection_context(settings),
            messaging.exchanges_context(contracts.INVENTORY_EXCHANGE),
            # Batches of a catalogue bulk upsert's size (500 events in one transaction): while
            # the process is busy serving updates, each relay round costs many event-loop turns,
            # and 100 rows a round fell behind 200 updates/s (commit -> published p95 5-10 s).
            outbox.relay_context(
                db.POOL, settings.amqp_url.get_secret_value(), name="inventory", batch_size=500
            ),
            housekeeping.context(db.POOL, settings),
            consumer.consumer_context(
                consumers.shipments_topology(settings),
                consumers.shipment_handler(app, settings),
                prefetch=settings.amqp_prefetch,
            ),
        ]
    )
    routes.add_routes(app)
    kit_openapi.route(app, openapi.description())
    return app
