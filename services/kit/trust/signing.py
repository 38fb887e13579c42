"""A calling service's proof of identity: internal tokens signed with a key only it holds.

The gateway signs one for every request it forwards (for the user it authenticated), orders for
every call to inventory (for the user it acts for, or for its sweeper). `Signer.mint` makes a
token for one audience that lives `identity_token_ttl_s`; a token is reused while more than half
of its life is left, so a busy caller signs about once per user and half-minute, not per request.
`signing(app, settings)` loads the key at start (a missing or broken key stops the start, not the
first call) and publishes the public keys at `/.well-known/jwks.json` for the callees' caches.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from meridian.services.kit import contracts
from meridian.services.kit.settings import IdentitySettings
from meridian.services.kit.trust import tokens

CACHED_TOKENS_MAX = 10_000


class Signer:
    def __init__(
        self,
        issuer: str,
        keys: list[rsa.RSAPrivateKey],
        *,
        ttl_s: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not keys:
            raise ValueError("A signer needs at least one key")
        self.issuer = issuer
        self.keys = keys
        self.ttl_s = ttl_s
        self._clock = clock
        self._minted: dict[tuple[str, uuid.UUID, str, frozenset[str]], tuple[int, str]] = {}

    def mint(
        self, *, audience: str, tenant_id: uuid.UUID, subject: str, scopes: frozenset[str]
    ) -> str:
        now = int(self._clock())
        cache_key = (audience, tenant_id, subject, scopes)
        found = self._minted.get(cache_key)
        if found is not None and found[0] - now > self.ttl_s / 2:
            return found[1]
        claims = tokens.InternalClaims(
            iss=self.issuer,
            aud=audience,
            sub=subject,
            tenant_id=tenant_id,
            scopes=sorted(scopes),
            iat=now,
            exp=now + self.ttl_s,
            jti=tokens.new_jti(),
        )
        token = tokens.sign(claims, self.keys[0])
        if len(self._minted) >= CACHED_TOKENS_MAX:
            self._minted.clear()  # bounded; the next calls simply sign again
        self._minted[cache_key] = (claims.exp, token)
        return token

    def jwks(self) -> dict[str, Any]:
        return {
            "keys": [
                tokens.public_jwk(key.public_key(), tokens.thumbprint(key.public_key()))
                for key in self.keys
            ]
        }


SIGNER = web.AppKey("identity_signer", Signer)


def signing(app: web.Application, settings: IdentitySettings) -> Signer:
    """Installs this service's signer (`app[SIGNER]`) and its JWKS route; call before catch-alls."""
    if settings.identity_signing_key_file is None:
        raise ValueError(
            f"{settings.name}: identity_signing_key_file "
            f"(MERIDIAN_{settings.name.upper()}_IDENTITY_SIGNING_KEY_FILE) is not configured: "
            "it proves this service's calls to its peers"
        )
    signer = Signer(
        tokens.principal(settings.name),
        tokens.load_private_keys(settings.identity_signing_key_file),
        ttl_s=settings.identity_token_ttl_s,
    )
    app[SIGNER] = signer
    document = signer.jwks()

    async def jwks(_request: web.Request) -> web.Response:
        return web.json_response(document, headers={"Cache-Control": "public, max-age=60"})

    app.router.add_get(contracts.JWKS_PATH, jwks)
    return signer
