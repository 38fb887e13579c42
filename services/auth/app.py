"""Auth's app factory: the runtime's skeleton, both databases, Redis, the key ring, the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import cache, db
from meridian.services.auth import keys, openapi, registry, routes, throttle
from meridian.services.auth.passwords import Passwords
from meridian.services.auth.settings import SETTINGS, Settings
from meridian.services.kit import openapi as kit_openapi


def create_app(settings: Settings) -> web.Application:
    app = runtime_app.create(settings)
    app[SETTINGS] = settings

    async def passwords(app: web.Application) -> AsyncIterator[None]:
        app[routes.PASSWORDS] = Passwords(settings)
        yield

    # Order matters: the registry context runs both migrations before auth's own pool opens.
    app.cleanup_ctx.extend(
        [
            registry.pool_context(settings),
            db.pool_context(settings),
            cache.client_context(settings),
            throttle.context(settings),
            keys.ring_context(settings),
            passwords,
        ]
    )

    routes.add_routes(app)
    kit_openapi.route(app, openapi.description())
    return app
