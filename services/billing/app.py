"""`create_app(settings)`: the runtime's skeleton plus billing's routes and the usage flusher.

Start-up order (cleanup_ctx; shutdown runs it backwards): migrations, the pool, Redis, and last
the usage flusher, so on shutdown it stops reading before its pool closes.
"""

from __future__ import annotations

from aiohttp import web

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import cache
from meridian.services.billing import MIGRATIONS, openapi, routes, usage
from meridian.services.billing.settings import SETTINGS, Settings
from meridian.services.kit import openapi as kit_openapi
from meridian.services.kit.storage import database
from meridian.services.kit.trust import identity


def create_app(settings: Settings) -> web.Application:
    if settings.pg_dsn is None or settings.redis_url is None:
        raise ValueError("billing needs MERIDIAN_BILLING_PG_DSN and _REDIS_URL")
    app = runtime_app.create(settings)
    app[SETTINGS] = settings
    identity.verifying(app, settings)
    app.cleanup_ctx.extend(
        [
            *database.contexts(settings, MIGRATIONS),
            cache.client_context(settings),
            usage.context(settings),
        ]
    )
    routes.add_routes(app)
    kit_openapi.route(app, openapi.description())
    return app
