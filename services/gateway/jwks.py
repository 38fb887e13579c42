"""Auth's public keys in the gateway: the kit's JWKS cache, fetched at start and kept fresh.

Readiness needs at least one key: a gateway that cannot verify any token must not take traffic.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from aiohttp import web

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import client, periodic
from meridian.services.gateway.settings import Settings
from meridian.services.kit import contracts
from meridian.services.kit.trust import jwks as kit_jwks

JWKS = web.AppKey("jwks", kit_jwks.Jwks)
VERIFIED = web.AppKey("verified_tokens", kit_jwks.VerifiedTokens[contracts.AccessClaims])


def jwks_context(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry (after the client session): the cache, its first fetch, its refresh."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        if settings.jwks_url is None:
            raise ValueError("gateway: jwks_url (MERIDIAN_GATEWAY_JWKS_URL) is not configured")
        jwks = kit_jwks.Jwks(
            app[client.SESSION], str(settings.jwks_url), min_refresh_s=settings.jwks_min_refresh_s
        )
        app[JWKS] = jwks
        app[VERIFIED] = kit_jwks.VerifiedTokens(leeway=settings.clock_skew_s)
        app[runtime_app.READINESS].add("jwks", jwks.ready)
        await jwks.refresh()  # auth may still be starting: readiness and misses retry

        async with periodic.running(
            jwks.refresh,
            every_s=settings.jwks_max_age_s,
            name="gateway-jwks-refresh",
            failure="JWKS not refreshed",
            first_now=False,
        ):
            yield

    return context
