"""Which key signs, which keys are published, and refresh-token shapes (pure logic)."""

from __future__ import annotations

import datetime
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from meridian.core.registry import refreshtokens
from meridian.services.auth.keys import KeyRing, SigningKey
from meridian.services.auth.settings import Settings as AuthSettings

T0 = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
PRIVATE = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def key(
    kid: str, active_from: datetime.datetime, retire_at: datetime.datetime | None
) -> SigningKey:
    return SigningKey(kid, PRIVATE, active_from, active_from, retire_at)


def ring(*keys: SigningKey) -> KeyRing:
    ring = KeyRing(AuthSettings(access_token_ttl_s=300, signing_key_passphrase="unit-test"))
    ring.keys = {k.kid: k for k in keys}
    return ring


def test_the_newest_active_key_signs_and_a_pending_one_is_already_published() -> None:
    minutes = datetime.timedelta(minutes=1)
    old = key("old", T0, T0 + 11 * minutes)
    new = key("new", T0 + 5 * minutes, None)
    keys = ring(old, new)
    assert keys.signer(T0 + minutes).kid == "old"
    assert [k.kid for k in keys.published(T0 + minutes)] == ["old", "new"]
    assert keys.signer(T0 + 5 * minutes).kid == "new"
    assert [k.kid for k in keys.published(T0 + 12 * minutes)] == ["new"]


def test_a_key_never_signs_a_token_that_would_outlive_its_publication() -> None:
    retiring = key("retiring", T0, T0 + datetime.timedelta(minutes=4))
    with pytest.raises(LookupError):
        ring(retiring).signer(T0)


def test_refresh_tokens_round_trip_and_foreign_shapes_are_refused() -> None:
    tenant = uuid.uuid4()
    token = refreshtokens.generate(tenant)
    assert refreshtokens.parse(token.token) == token
    assert token.digest != refreshtokens.generate(tenant).digest
    for bad in ("", "mrt_x_y", f"mrd_{tenant.hex}_{'a' * 43}", f"mrt_{tenant.hex}_short"):
        with pytest.raises(ValueError, match="refresh token"):
            refreshtokens.parse(bad)


def test_a_ring_needs_the_passphrase_that_encrypts_private_keys() -> None:
    with pytest.raises(ValueError, match="MERIDIAN_AUTH_SIGNING_KEY_PASSPHRASE"):
        KeyRing(AuthSettings())
