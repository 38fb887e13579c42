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
from typing import Generic, NamedTuple, TypeVar

import aiohttp
from cryptography.hazmat.primitives.asymmetric import rsa

from meridian.core.runtime import logging as meridian_logging
from meridian.services.kit import contracts
from meridian.services.kit.trust import tokens

log = meridian_logging.get_logger("meridian.services.kit.trust.jwks")

Claims = TypeVar("Claims", bound=contracts.AccessClaims)


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


class _Verified(NamedTuple, Generic[Claims]):
    source: Jwks
    kid: str
    key: rsa.RSAPublicKey
    claims: Claims


class VerifiedTokens(Generic[Claims]):
    """Tokens already verified (`tokens.verify`), with their claims, until they expire.

    A caller sends the same token with request after request for minutes (a user's access token;
    the internal token the gateway mints once per caller and audience, `signing`): parsing it
    three times and checking its RS256 signature on every request was ~13 % of the gateway's and
    of inventory's CPU at 200 product updates/s. A hit is the very same token string, still
    within `exp` (plus `leeway`), whose key is still the one its issuer's JWKS holds under that
    kid (the same object: a retired or refetched key sends the token back through `verify`).
    At most `size` entries; the oldest is dropped first.
    """

    def __init__(
        self, *, leeway: float, size: int = 10_000, clock: Callable[[], float] = time.time
    ) -> None:
        self.leeway = leeway
        self.size = size
        self._clock = clock
        self._entries: dict[str, _Verified[Claims]] = {}

    def get(self, token: str) -> Claims | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        if entry.source.keys.get(entry.kid) is not entry.key or (
            entry.claims.exp + self.leeway < self._clock()
        ):
            del self._entries[token]
            return None
        return entry.claims

    def put(
        self, token: str, source: Jwks, kid: str, key: rsa.RSAPublicKey, claims: Claims
    ) -> None:
        while len(self._entries) >= self.size:
            del self._entries[next(iter(self._entries))]
        self._entries[token] = _Verified(source, kid, key, claims)
