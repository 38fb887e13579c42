"""Signing-key rotation with overlap: old tokens stay verifiable until they expire."""

from __future__ import annotations

import datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from meridian.core.runtime import db
from meridian.services.auth import keys
from meridian.services.auth.settings import Settings as AuthSettings
from meridian.services.kit import contracts
from meridian.services.kit.trust import tokens
from tests.integration.services.auth.conftest import AuthClient, MakeUser
from tests.integration.services.auth.test_login import login, verify_with_jwks


async def test_rotation_keeps_old_tokens_valid_until_expiry_and_new_tokens_use_the_new_key(
    auth: AuthClient, make_user: MakeUser, auth_settings: AuthSettings
) -> None:
    user = await make_user()
    old_token = str((await login(auth, user))["access_token"])
    old_kid = tokens.kid_of(old_token)
    ring = auth.app[keys.RING]
    pool = auth.app[db.POOL]
    new_kid = await keys.rotate(pool, auth_settings, activate_in=0)
    retire_at = await pool.fetchval(
        "SELECT retire_at FROM auth.signing_keys WHERE kid = $1", old_kid
    )
    active_from = await pool.fetchval(
        "SELECT active_from FROM auth.signing_keys WHERE kid = $1", new_kid
    )
    await ring.reload(pool)  # what the refresh loop does every key_refresh_s

    new_token = str((await login(auth, user))["access_token"])
    assert tokens.kid_of(new_token) == new_kid != old_kid
    document = await (await auth.get(contracts.JWKS_PATH)).json()
    assert {jwk["kid"] for jwk in document["keys"]} == {old_kid, new_kid}
    assert (await verify_with_jwks(auth, old_token)).sub == str(user.id)
    assert (await verify_with_jwks(auth, new_token)).sub == str(user.id)
    # The old key retires once the last token it signed has expired (plus clock skew) ...
    lifetime = auth_settings.access_token_ttl_s + auth_settings.clock_skew_s
    assert retire_at == active_from + datetime.timedelta(seconds=lifetime)
    # ... and then leaves the JWKS.
    after = retire_at + datetime.timedelta(seconds=1)
    assert [key.kid for key in ring.published(after)] == [new_kid]


async def test_a_pending_key_is_published_before_it_signs(
    auth: AuthClient, auth_settings: AuthSettings
) -> None:
    ring = auth.app[keys.RING]
    current = ring.signer().kid
    pending = await keys.rotate(auth.app[db.POOL], auth_settings, activate_in=3600)
    await ring.reload(auth.app[db.POOL])
    assert ring.signer().kid == current
    document = await (await auth.get(contracts.JWKS_PATH)).json()
    assert pending in {jwk["kid"] for jwk in document["keys"]}
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1, seconds=1)
    assert ring.signer(later).kid == pending


async def test_rotation_is_due_only_when_the_newest_key_is_old(
    auth: AuthClient, auth_settings: AuthSettings
) -> None:
    pool = auth.app[db.POOL]
    assert await keys.rotate_if_due(pool, auth_settings) is None
    await pool.execute("UPDATE auth.signing_keys SET created_at = now() - interval '60 days'")
    assert await keys.rotate_if_due(pool, auth_settings) is not None
    assert await keys.rotate_if_due(pool, auth_settings) is None


async def test_private_keys_are_stored_encrypted_and_a_legacy_plain_key_still_loads(
    auth: AuthClient, auth_settings: AuthSettings
) -> None:
    """A copy of the database alone cannot sign tokens; keys from before encryption keep working
    until they rotate out."""
    pool = auth.app[db.POOL]
    kid = await keys.rotate(pool, auth_settings, activate_in=0)
    pem = await pool.fetchval("SELECT private_key_pem FROM auth.signing_keys WHERE kid = $1", kid)
    assert pem.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    with pytest.raises(TypeError, match="encrypted"):
        serialization.load_pem_private_key(pem.encode(), password=None)
    with pytest.raises(ValueError, match="decrypt"):
        serialization.load_pem_private_key(pem.encode(), password=b"not the passphrase")
    elsewhere = auth_settings.model_copy(update={"signing_key_passphrase": SecretStr("other")})
    with pytest.raises(ValueError, match=f"Signing key {kid} cannot be decrypted"):
        await keys.KeyRing(elsewhere).reload(pool)

    plain = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    legacy = plain.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    await pool.execute(
        "INSERT INTO auth.signing_keys (kid, private_key_pem, active_from)"
        " VALUES ('legacy-plain', $1, now() + interval '1 hour')",
        legacy,
    )
    ring = keys.KeyRing(auth_settings)
    await ring.reload(pool)
    assert (
        ring.keys["legacy-plain"].public_key.public_numbers() == plain.public_key().public_numbers()
    )
    assert ring.keys[kid].private_key is not None
    await pool.execute("DELETE FROM auth.signing_keys WHERE kid = 'legacy-plain'")
