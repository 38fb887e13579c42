"""Access tokens on the verifying side, and JWKs: what auth and the gateway both need.

Auth signs (its own `tokens` module) and verifies on `/v1/auth/revoke`; the gateway verifies every
request. Both go through `verify`, so the algorithm allow-list (RS256 only: an `alg: none` or
HS256-with-the-public-key token is refused), the required claims and the leeway are one decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jwt
import pydantic
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from meridian.services.kit import contracts

REQUIRED_CLAIMS = ["iss", "sub", "iat", "exp", "jti"]


class InvalidToken(Exception):
    """The token is malformed, signed by a key we do not know, expired, or not ours."""


def kid_of(token: str) -> str:
    """The `kid` of a token's header, unverified (it only selects the key to verify with)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise InvalidToken(f"Malformed token: {error}") from error
    kid = header.get("kid")
    if not isinstance(kid, str) or header.get("alg") != contracts.TOKEN_ALGORITHM:
        raise InvalidToken("The token names no key or another algorithm than RS256")
    return kid


def verify(
    token: str, key: rsa.RSAPublicKey, *, issuer: str, leeway: float = 0
) -> contracts.AccessClaims:
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[contracts.TOKEN_ALGORITHM],
            issuer=issuer,
            leeway=leeway,
            options={"require": REQUIRED_CLAIMS},
        )
        return contracts.AccessClaims.model_validate(payload)
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from error
    except pydantic.ValidationError as error:
        raise InvalidToken(f"Unexpected claims: {error.error_count()} errors") from error


def public_jwk(key: rsa.RSAPublicKey, kid: str) -> dict[str, Any]:
    """The JWK a JWKS document lists for `key`."""
    jwk = dict(RSAAlgorithm.to_jwk(key, as_dict=True))
    jwk.update(kid=kid, use="sig", alg=contracts.TOKEN_ALGORITHM)
    return jwk


def public_key(jwk: Mapping[str, Any]) -> rsa.RSAPublicKey:
    """An RSA public key from a JWK; ValueError for any other kind of key."""
    try:
        key = RSAAlgorithm.from_jwk(dict(jwk))
    except (jwt.PyJWTError, KeyError, TypeError) as error:
        raise ValueError(f"Not an RSA JWK: {error}") from error
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("The JWK holds a private key; a JWKS publishes public keys only")
    return key
