"""Auth's app factory: the kit's skeleton, both databases, Redis, the key ring, the routes."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import cache, db
from meridian.services.auth import keys, openapi, registry, routes, throttle
from meridian.services.auth.passwords import Passwords
from meridian.services.auth.settings import AuthSettings
from meridian.services.kit import contracts
from meridian.services.kit import openapi as kit_openapi


def create_app(settings: AuthSettings) -> web.Application:
    app = runtime_app.create(settings)

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

    app.router.add_post("/v1/auth/login", routes.login)
    app.router.add_post("/v1/auth/refresh", routes.refresh)
    app.router.add_post("/v1/auth/token", routes.api_key_token)
    app.router.add_post("/v1/auth/revoke", routes.revoke)
    app.router.add_get(contracts.JWKS_PATH, routes.jwks)
    kit_openapi.route(app, openapi.description())
    return app
