"""`create_app(settings)`: the runtime's skeleton plus billing's routes, the usage flusher and
the invoice reporter.

Start-up order (cleanup_ctx; shutdown runs it backwards): migrations, the pool, the registry's
pool, Redis, the usage flusher, and last the invoice reporter, so on shutdown the loops stop
before the pools close.
"""

from __future__ import annotations

from aiohttp import web

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import cache
from meridian.services.billing import MIGRATIONS, invoicing, openapi, registry, routes, usage
from meridian.services.billing.settings import SETTINGS, Settings
from meridian.services.kit import contracts
from meridian.services.kit import openapi as kit_openapi
from meridian.services.kit.storage import database
from meridian.services.kit.trust import identity


def create_app(settings: Settings) -> web.Application:
    if (
        settings.pg_dsn is None
        or settings.redis_url is None
        or settings.platform_dsn is None
        or settings.stripe_api_key is None
    ):
        raise ValueError(
            "billing needs MERIDIAN_BILLING_PG_DSN, _REDIS_URL, _PLATFORM_DSN and _STRIPE_API_KEY"
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
        ]
    )
    routes.add_routes(app)
    kit_openapi.route(app, openapi.description())
    return app
