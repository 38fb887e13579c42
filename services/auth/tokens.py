"""Access tokens on the signing side: claims from `contracts.AccessClaims`, signed by the ring."""

from __future__ import annotations

import time
import uuid

import jwt

from meridian.services.auth.keys import KeyRing
from meridian.services.auth.settings import Settings
from meridian.services.kit import contracts
from meridian.services.kit.trust import tokens


def issue(
    ring: KeyRing,
    settings: Settings,
    *,
    subject: str,
    tenant_id: uuid.UUID,
    scopes: list[str],
) -> tuple[str, contracts.AccessClaims]:
    key = ring.signer()
    now = int(time.time())
    claims = contracts.AccessClaims(
        iss=settings.issuer,
        sub=subject,
        tenant_id=tenant_id,
        scopes=scopes,
        iat=now,
        exp=now + settings.access_token_ttl_s,
        jti=uuid.uuid4().hex,
    )
    token = jwt.encode(
        claims.model_dump(mode="json"),
        key.private_key,
        algorithm=contracts.TOKEN_ALGORITHM,
        headers={"kid": key.kid},
    )
    return token, claims


def verify(ring: KeyRing, settings: Settings, token: str) -> contracts.AccessClaims:
    """One of our access tokens, checked; `tokens.InvalidToken` otherwise."""
    key = ring.public_key(tokens.kid_of(token))
    if key is None:
        raise tokens.InvalidToken("The token's key is not (or no longer) published")
    return tokens.verify(token, key, issuer=settings.issuer, leeway=settings.clock_skew_s)
