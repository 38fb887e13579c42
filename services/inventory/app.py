"""Inventory's app factory: the kit's skeleton, its migrations, pool, Redis, consumer and relay."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

from aiohttp import web

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import cache, db
from meridian.services.inventory import consumers, handlers, openapi, stockcache
from meridian.services.inventory.settings import Settings
from meridian.services.kit import consumer, contracts, housekeeping, identity, messaging, outbox
from meridian.services.kit import openapi as kit_openapi

MIGRATIONS = Path(__file__).parent / "migrations"


def create_app(settings: Settings) -> web.Application:
    if settings.amqp_url is None:
        raise ValueError("inventory: amqp_url is not configured")
    app = runtime_app.create(settings)
    identity.verifying(app, settings)

    async def stock_cache(app: web.Application) -> AsyncIterator[None]:
        app[handlers.CACHE] = stockcache.StockCache(app[cache.CLIENT], ttl_s=settings.cache_ttl_s)
        yield

    app.cleanup_ctx.extend(
        [
            db.migrations_context(settings, MIGRATIONS),
            db.pool_context(settings),
            cache.client_context(settings),
            stock_cache,
            messaging.connection_context(settings),
            messaging.exchanges_context(contracts.INVENTORY_EXCHANGE),
            outbox.relay_context(db.POOL, settings.amqp_url.get_secret_value(), name="inventory"),
            housekeeping.context(db.POOL, settings),
            consumer.consumer_context(
                consumers.shipments_topology(settings),
                consumers.shipment_handler(app, settings),
                prefetch=settings.amqp_prefetch,
            ),
        ]
    )
    handlers.add_routes(app)
    kit_openapi.route(app, openapi.description())
    return app
