"""The verified-token cache: a hit only for the same token, still valid, under the same key."""

from __future__ import annotations

import uuid

import aiohttp
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from meridian.services.kit import contracts
from meridian.services.kit.trust import jwks, tokens

NOW = 1_800_000_000


def _claims(exp: int = NOW + 60) -> contracts.AccessClaims:
    return contracts.AccessClaims(
        iss="meridian-auth",
        sub="user-1",
        tenant_id=uuid.uuid4(),
        scopes=["inventory:write"],
        iat=NOW,
        exp=exp,
        jti=tokens.new_jti(),
    )


def _key() -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(
        tokens.generate_private_key_pem().encode(), password=None
    )
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


async def _source(*keys: rsa.RSAPrivateKey) -> jwks.Jwks:
    source = jwks.Jwks(aiohttp.ClientSession(), "http://127.0.0.1:9/jwks", min_refresh_s=10)
    await source.session.close()  # never fetched: the keys are set as a refresh would
    source.keys = {tokens.thumbprint(k.public_key()): k.public_key() for k in keys}
    return source


async def test_a_verified_token_is_known_until_it_expires_and_only_that_token() -> None:
    key = _key()
    source = await _source(key)
    kid = tokens.thumbprint(key.public_key())
    clock = [float(NOW)]
    cache = jwks.VerifiedTokens[contracts.AccessClaims](leeway=5, clock=lambda: clock[0])
    claims = _claims()
    token = tokens.sign(claims, key)
    assert cache.get(token) is None
    cache.put(token, source, kid, source.keys[kid], claims)
    assert cache.get(token) == claims
    assert cache.get(token + "x") is None
    assert cache.get(tokens.sign(_claims(), key)) is None
    clock[0] = NOW + 65  # exp + leeway
    assert cache.get(token) == claims
    clock[0] = NOW + 66
    assert cache.get(token) is None
    clock[0] = NOW
    assert cache.get(token) is None, "an expired entry is dropped, not revived"


async def test_a_token_whose_key_was_retired_or_refetched_is_verified_again() -> None:
    old, new = _key(), _key()
    source = await _source(old, new)
    kid = tokens.thumbprint(old.public_key())
    cache = jwks.VerifiedTokens[contracts.AccessClaims](leeway=5, clock=lambda: float(NOW))
    claims = _claims()
    token = tokens.sign(claims, old)
    cache.put(token, source, kid, source.keys[kid], claims)
    assert cache.get(token) == claims
    source.keys = {tokens.thumbprint(k.public_key()): k.public_key() for k in (old, new)}
    assert cache.get(token) is None, "a refetched key is another object: verify again"
    cache.put(token, source, kid, source.keys[kid], claims)
    source.keys = {tokens.thumbprint(new.public_key()): new.public_key()}
    assert cache.get(token) is None, "the issuer no longer publishes the key"


async def test_the_cache_holds_at_most_its_size_dropping_the_oldest() -> None:
    key = _key()
    source = await _source(key)
    kid = tokens.thumbprint(key.public_key())
    cache = jwks.VerifiedTokens[contracts.AccessClaims](size=2, leeway=5, clock=lambda: float(NOW))
    issued = [(tokens.sign(claims, key), claims) for claims in (_claims(), _claims(), _claims())]
    for token, claims in issued:
        cache.put(token, source, kid, source.keys[kid], claims)
    assert cache.get(issued[0][0]) is None
    assert [cache.get(token) for token, _ in issued[1:]] == [claims for _, claims in issued[1:]]
