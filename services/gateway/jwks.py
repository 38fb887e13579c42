"""Auth's public keys, fetched over HTTP and cached in the gateway.

A token's `kid` is looked up in memory. An unknown kid (auth rotated; this gateway has not yet
refreshed) triggers one fetch, but at most one every `jwks_min_refresh_s`, and concurrent misses
share it. A background refresh every `jwks_max_age_s` drops retired keys. A failed fetch keeps the
keys we have: auth being down must not log everybody out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import client, periodic
from meridian.core.runtime import logging as meridian_logging
from meridian.services.gateway.settings import Settings
from meridian.services.kit import tokens

log = meridian_logging.get_logger("meridian.services.gateway.jwks")


class Jwks:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        *,
        min_refresh_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session = session
        self.url = url
        self.min_refresh_s = min_refresh_s
        self.keys: dict[str, rsa.RSAPublicKey] = {}
        self._clock = clock
        self._last_attempt = float("-inf")
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> rsa.RSAPublicKey | None:
        found = self.keys.get(kid)
        if found is None and self._clock() - self._last_attempt >= self.min_refresh_s:
            await self.refresh(unless_known=kid)
            found = self.keys.get(kid)
        return found

    async def refresh(self, unless_known: str | None = None) -> None:
        """Fetch the JWKS; keeps the current keys when auth cannot be reached or answers junk."""
        async with self._lock:
            if unless_known is not None and unless_known in self.keys:
                return  # a concurrent miss fetched it while we waited
            self._last_attempt = self._clock()
            try:
                async with self.session.get(self.url, timeout=aiohttp.ClientTimeout(5)) as answer:
                    answer.raise_for_status()
                    document = await answer.json()
                keys = {jwk["kid"]: tokens.public_key(jwk) for jwk in document["keys"]}
            except (aiohttp.ClientError, TimeoutError, ValueError, KeyError, TypeError) as error:
                log.warning("JWKS not refreshed", url=self.url, error=str(error))
                return
            if set(keys) != set(self.keys):
                log.info("JWKS refreshed", kids=sorted(keys))
            self.keys = keys

    async def ready(self) -> None:
        """Readiness: we hold at least one key (fetching now if we hold none)."""
        if not self.keys:
            await self.refresh()
        if not self.keys:
            raise ConnectionError(f"No signing keys from {self.url}")


JWKS = web.AppKey("jwks", Jwks)


def jwks_context(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry (after the client session): the cache, its first fetch, its refresh."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        if settings.jwks_url is None:
            raise ValueError("gateway: jwks_url (MERIDIAN_GATEWAY_JWKS_URL) is not configured")
        jwks = Jwks(
            app[client.SESSION], str(settings.jwks_url), min_refresh_s=settings.jwks_min_refresh_s
        )
        app[JWKS] = jwks
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
