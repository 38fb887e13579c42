"""Tokens on the verifying side, internal tokens on the signing side, and JWKs.

Two kinds of token, both RS256 JWTs with a `kid`:
- access tokens (`contracts.AccessClaims`): auth signs them (its own `tokens` module) and verifies
  them on `/v1/auth/revoke`; the gateway verifies every request's;
- internal tokens (`InternalClaims`): the proof a service gets with every call from the gateway or
  a peer (`identity`). Short-lived (a minute), for one audience (`principal(<service>)`), signed by
  the caller's own key (`sign`, `load_private_keys`), published as a JWKS whose kids are RFC 7638
  thumbprints, so every replica holding the same key publishes the same kid.
Every check goes through `verify`, so the algorithm allow-list (RS256 only: an `alg: none` or
HS256-with-the-public-key token is refused), the required claims and the leeway are one decision.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import jwt
import pydantic
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from meridian.services.kit import contracts

REQUIRED_CLAIMS = ["iss", "sub", "iat", "exp", "jti"]
_PEM_KEY = re.compile(r"-----BEGIN PRIVATE KEY-----.+?-----END PRIVATE KEY-----", re.S)

Claims = TypeVar("Claims", bound=contracts.AccessClaims)


class InternalClaims(contracts.AccessClaims):
    """An internal token's claims: an access token's, for one audience (the called service).

    `sub` is the user (or `apikey:<prefix>`) the call is made for, or the calling service's own
    worker (`orders-sweeper`) for background work. `aud` is one service's principal, as this
    project signs them; a list is valid JWT and is accepted when it holds the verifier's."""

    aud: str | list[str]


def principal(service: str) -> str:
    """A service's name as an internal token's issuer (when it calls) or audience (when called)."""
    return f"meridian-{service}"


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


def issuer_of(token: str) -> str:
    """The `iss` of a token, unverified (it only selects whose keys to verify with)."""
    try:
        issuer = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except jwt.PyJWTError as error:
        raise InvalidToken(f"Malformed token: {error}") from error
    if not isinstance(issuer, str):
        raise InvalidToken("The token names no issuer")
    return issuer


def verify(
    token: str,
    key: rsa.RSAPublicKey,
    *,
    issuer: str,
    leeway: float = 0,
    audience: str | None = None,
    claims: type[Claims] = contracts.AccessClaims,  # type: ignore[assignment]
) -> Claims:
    """The token's claims once signature, issuer, expiry (within `leeway`) and, when given,
    audience hold; `InvalidToken` otherwise."""
    required = [*REQUIRED_CLAIMS, "aud"] if audience is not None else REQUIRED_CLAIMS
    try:
        payload = jwt.decode(
            token,
            key,
            algorithms=[contracts.TOKEN_ALGORITHM],
            issuer=issuer,
            audience=audience,
            leeway=leeway,
            options={"require": required, "verify_aud": audience is not None},
        )
        return claims.model_validate(payload)
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


def sign(claims: contracts.AccessClaims, key: rsa.RSAPrivateKey) -> str:
    return jwt.encode(
        claims.model_dump(mode="json"),
        key,
        algorithm=contracts.TOKEN_ALGORITHM,
        headers={"kid": thumbprint(key.public_key())},
    )


def thumbprint(key: rsa.RSAPublicKey) -> str:
    """RFC 7638: the same key gives the same kid in every replica, with nothing to configure."""
    jwk = RSAAlgorithm.to_jwk(key, as_dict=True)
    canonical = json.dumps({name: jwk[name] for name in ("e", "kty", "n")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def load_private_keys(path: Path) -> list[rsa.RSAPrivateKey]:
    """The RSA keys of a PEM file (PKCS#8, as mounted from a Secret): the first signs, all are
    published, so a rotation puts the new key first and keeps the old one until its tokens expired."""
    blocks = _PEM_KEY.findall(path.read_text())
    keys = [serialization.load_pem_private_key(block.encode(), password=None) for block in blocks]
    if not keys or not all(isinstance(key, rsa.RSAPrivateKey) for key in keys):
        raise ValueError(f"{path} holds no RSA private key in PKCS#8 PEM")
    return [key for key in keys if isinstance(key, rsa.RSAPrivateKey)]


def generate_private_key_pem() -> str:
    """A new signing key as PKCS#8 PEM (2048-bit RSA), for `load_private_keys`."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def new_jti() -> str:
    return uuid.uuid4().hex
