"""Signing keys: created, rotated with overlap, loaded into a ring, published as a JWKS.

A key's life, in `auth.signing_keys` (database meridian_auth):
- created by `rotate` (or `ensure` on first start) and published in the JWKS at once;
- signs from `active_from` (the newest active key signs; earlier ones stop);
- stays published until `retire_at` = its successor's `active_from` + the access-token lifetime
  + clock skew: by then every token it signed has expired. Retired rows stay for the record.

Private keys are stored as encrypted PKCS#8 PEM (`signing_key_passphrase`), so a copy of the
database (a backup, a replica, a dump) does not hand out the power to mint tokens. Keys written
before encryption are still read, with a warning, and leave with the next rotation.

Entry points for rotation: `rotate_if_due` runs at start and every `key_refresh_s` in each replica
(a key older than `key_rotate_after_s` is succeeded), and `python -m meridian.services.auth
rotate-keys` forces one now (after a suspected leak, say). Replicas serialise on an advisory lock,
so two never rotate at once. Keys activate `key_activation_delay_s` after creation: every replica
reloads its ring (every `key_refresh_s`) and every gateway sees the key in the JWKS before its
first token exists.
"""

from __future__ import annotations

import asyncio
import datetime
import secrets
from collections.abc import AsyncIterator, Callable
from typing import Any, NamedTuple

from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from meridian.core.runtime import db, periodic
from meridian.core.runtime import logging as meridian_logging
from meridian.services.auth.settings import Settings
from meridian.services.kit.trust import tokens

log = meridian_logging.get_logger("meridian.services.auth.keys")

ROTATION_LOCK = "meridian.auth.signing_keys"


class SigningKey(NamedTuple):
    kid: str
    private_key: rsa.RSAPrivateKey
    created_at: datetime.datetime
    active_from: datetime.datetime
    retire_at: datetime.datetime | None

    @property
    def public_key(self) -> rsa.RSAPublicKey:
        return self.private_key.public_key()


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def passphrase(settings: Settings) -> bytes:
    """The key-encryption passphrase; a clear error when it is not configured."""
    if (
        settings.signing_key_passphrase is None
        or not settings.signing_key_passphrase.get_secret_value()
    ):
        raise ValueError(
            "MERIDIAN_AUTH_SIGNING_KEY_PASSPHRASE is not set: private signing keys are stored"
            " encrypted with it"
        )
    return settings.signing_key_passphrase.get_secret_value().encode()


def _generate_pem(bits: int, secret: bytes) -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(secret),
    ).decode()


def _load_pem(kid: str, pem: str, secret: bytes) -> rsa.RSAPrivateKey:
    encrypted = "ENCRYPTED PRIVATE KEY" in pem
    if not encrypted:
        log.warning("Signing key stored unencrypted; it leaves with the next rotation", kid=kid)
    try:
        key = serialization.load_pem_private_key(
            pem.encode(), password=secret if encrypted else None
        )
    except ValueError as error:
        raise ValueError(
            f"Signing key {kid} cannot be decrypted with MERIDIAN_AUTH_SIGNING_KEY_PASSPHRASE:"
            " every replica must use the passphrase the keys were written with"
        ) from error
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("auth.signing_keys holds a key that is not RSA")
    return key


async def _lock(conn: db.Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1))", ROTATION_LOCK)


async def _insert(
    conn: db.Connection, *, bits: int, secret: bytes, active_from: datetime.datetime
) -> str:
    kid = f"{_now():%Y%m%d}-{secrets.token_hex(6)}"
    pem = await asyncio.to_thread(_generate_pem, bits, secret)
    await conn.execute(
        "INSERT INTO auth.signing_keys (kid, private_key_pem, active_from) VALUES ($1, $2, $3)",
        kid,
        pem,
        active_from,
    )
    return kid


async def rotate(pool: db.Pool, settings: Settings, *, activate_in: float | None = None) -> str:
    """A new key signing from now + `activate_in` (default: the settings' delay); returns its kid.

    Every key without a retirement time gets one: the new key's activation plus the lifetime of
    the last token it may still sign, plus clock skew."""
    delay = settings.key_activation_delay_s if activate_in is None else activate_in
    async with pool.acquire() as conn, conn.transaction():
        await _lock(conn)
        return await _rotate_locked(conn, settings, delay)


async def _rotate_locked(conn: db.Connection, settings: Settings, delay: float) -> str:
    active_from = await conn.fetchval("SELECT now()") + datetime.timedelta(seconds=delay)
    kid = await _insert(
        conn, bits=settings.key_bits, secret=passphrase(settings), active_from=active_from
    )
    retire_at = active_from + datetime.timedelta(
        seconds=settings.access_token_ttl_s + settings.clock_skew_s
    )
    await conn.execute(
        "UPDATE auth.signing_keys SET retire_at = $2 WHERE retire_at IS NULL AND kid <> $1",
        kid,
        retire_at,
    )
    log.info("Signing key created", kid=kid, active_from=active_from.isoformat())
    return kid


async def rotate_if_due(pool: db.Pool, settings: Settings) -> str | None:
    """First start: a key active at once. Later: a successor when the newest key is too old."""
    async with pool.acquire() as conn, conn.transaction():
        await _lock(conn)
        newest = await conn.fetchval(
            "SELECT max(created_at) FROM auth.signing_keys WHERE retire_at IS NULL"
        )
        if newest is None:
            return await _rotate_locked(conn, settings, 0)
        age = (await conn.fetchval("SELECT now()") - newest).total_seconds()
        if age >= settings.key_rotate_after_s:
            return await _rotate_locked(conn, settings, settings.key_activation_delay_s)
    return None


class KeyRing:
    """This replica's view of the keys: which one signs now, which ones are published."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.keys: dict[str, SigningKey] = {}
        self._secret = passphrase(settings)

    async def reload(self, pool: db.Pool) -> None:
        rows = await pool.fetch(
            """SELECT kid, private_key_pem, created_at, active_from, retire_at
               FROM auth.signing_keys WHERE retire_at IS NULL OR retire_at > now()"""
        )
        keys: dict[str, SigningKey] = {}
        for row in rows:
            known = self.keys.get(row["kid"])
            private = (
                known.private_key
                if known
                else await asyncio.to_thread(_load_pem, row["kid"], row[1], self._secret)
            )
            keys[row["kid"]] = SigningKey(
                row["kid"], private, row["created_at"], row["active_from"], row["retire_at"]
            )
        self.keys = keys

    def signer(self, now: datetime.datetime | None = None) -> SigningKey:
        """The newest key active at `now` whose tokens expire before it retires."""
        now = now or _now()
        lifetime = datetime.timedelta(seconds=self.settings.access_token_ttl_s)
        usable = [
            key
            for key in self.keys.values()
            if key.active_from <= now and (key.retire_at is None or now + lifetime <= key.retire_at)
        ]
        if not usable:
            raise LookupError("No signing key is active; has the ring been loaded?")
        return max(usable, key=lambda key: key.active_from)

    def published(self, now: datetime.datetime | None = None) -> list[SigningKey]:
        now = now or _now()
        return sorted(
            (key for key in self.keys.values() if key.retire_at is None or key.retire_at > now),
            key=lambda key: key.active_from,
        )

    def jwks(self) -> dict[str, Any]:
        return {"keys": [tokens.public_jwk(key.public_key, key.kid) for key in self.published()]}

    def public_key(self, kid: str) -> rsa.RSAPublicKey | None:
        key = self.keys.get(kid)
        return None if key is None else key.public_key


RING = web.AppKey("key_ring", KeyRing)


def ring_context(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry: keys ensured, the ring loaded, then kept fresh in the background."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        pool = app[db.POOL]
        ring = KeyRing(settings)  # fails first when the passphrase is missing
        await rotate_if_due(pool, settings)
        await ring.reload(pool)
        app[RING] = ring

        async def refresh() -> None:
            await rotate_if_due(pool, settings)
            await ring.reload(pool)

        # A failed round is retried by the next; the ring keeps its keys meanwhile.
        async with periodic.running(
            refresh,
            every_s=settings.key_refresh_s,
            name="auth-key-refresh",
            failure="Signing keys not refreshed",
            first_now=False,
        ):
            yield

    return context
