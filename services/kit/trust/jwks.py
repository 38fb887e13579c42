"""A token issuer's public keys (its JWKS), fetched over HTTP and cached in the verifier.

The gateway keeps auth's (user access tokens); every service keeps those of the peers it takes
internal tokens from (`identity`). A token's `kid` is looked up in memory. An unknown kid (the
issuer rotated; we have not yet refreshed) triggers one fetch, but at most one every
`min_refresh_s` (a flood of forged kids is not a flood of fetches), and concurrent misses share it. The owner refreshes every max age, which drops retired keys. A failed fetch keeps the
keys we have: an issuer being down must not log everybody out.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp
from cryptography.hazmat.primitives.asymmetric import rsa

from meridian.core.runtime import logging as meridian_logging
from meridian.services.kit.trust import tokens

log = meridian_logging.get_logger("meridian.services.kit.trust.jwks")


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
        if found is None:
            await self.refresh(unless_known=kid)
            found = self.keys.get(kid)
        return found

    async def refresh(self, unless_known: str | None = None) -> None:
        """Fetch the JWKS; keeps the current keys when the issuer cannot be reached or answers
        junk. With `unless_known`: only when that kid is still unknown and no fetch began within
        `min_refresh_s` (misses that waited for a fetch in flight take its result)."""
        async with self._lock:
            if unless_known is not None and (
                unless_known in self.keys or self._clock() - self._last_attempt < self.min_refresh_s
            ):
                return
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
