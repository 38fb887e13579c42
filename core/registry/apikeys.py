"""API keys: generated once, delivered once, stored only as a hash.

A key is `mrd_<prefix>_<secret>`: the prefix is public (it finds the row, and shows in logs and
dashboards), the secret is 256 random bits. With that much entropy a fast hash is enough (as for
GitHub or Stripe tokens); passwords, which people choose, are the auth service's and use a
memory-hard hash. State: active, suspended (the tenant is suspended; restored with it), revoked.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from typing import Literal, NamedTuple

import asyncpg

from meridian.core.registry.connection import Connection
from meridian.core.registry.tenants import TenantState

KeyState = Literal["active", "suspended", "revoked"]
SCHEME = "mrd"


class ApiKey(NamedTuple):
    prefix: str
    secret: str

    @property
    def token(self) -> str:
        return f"{SCHEME}_{self.prefix}_{self.secret}"

    @property
    def digest(self) -> bytes:
        return hashlib.sha256(self.token.encode()).digest()


class FoundKey(NamedTuple):
    """A stored key found by its public prefix, with what authenticating it needs."""

    tenant_id: uuid.UUID
    secret_sha256: bytes
    key_state: KeyState
    tenant_state: TenantState


def generate() -> ApiKey:
    return ApiKey(prefix=secrets.token_hex(6), secret=secrets.token_urlsafe(32))


def parse(token: str) -> ApiKey:
    """Split a presented token; ValueError when it is not one of ours."""
    scheme, _, rest = token.partition("_")
    prefix, _, secret = rest.partition("_")
    if scheme != SCHEME or len(prefix) != 12 or not secret:
        raise ValueError("not a Meridian API key")
    return ApiKey(prefix, secret)


def matches(key: ApiKey, stored_digest: bytes) -> bool:
    return hmac.compare_digest(key.digest, stored_digest)


async def find(conn: Connection, prefix: str) -> FoundKey | None:
    """The key with this prefix, whichever tenant owns it: authenticating a key happens before
    the tenant is known, so this goes through the one SECURITY DEFINER lookup
    (`platform.find_api_key`) that crosses tenants; run it as `APP_ROLE` with no tenant set."""
    row = await conn.fetchrow("SELECT * FROM platform.find_api_key($1)", prefix)
    if row is None:
        return None
    return FoundKey(
        row["tenant_id"], bytes(row["secret_sha256"]), row["key_state"], row["tenant_state"]
    )


async def ensure(
    conn: Connection, tenant_id: uuid.UUID, *, prefix: str, digest: bytes, purpose: str
) -> bool:
    """Record a key that was delivered (idempotent); True when this call inserted it."""
    inserted = await conn.fetchval(
        """INSERT INTO platform.api_keys (tenant_id, prefix, secret_sha256, purpose)
           VALUES ($1, $2, $3, $4) ON CONFLICT (prefix) DO NOTHING RETURNING id""",
        tenant_id,
        prefix,
        digest,
        purpose,
    )
    return inserted is not None


async def keys_of(conn: Connection, tenant_id: uuid.UUID) -> list[asyncpg.Record]:
    return list(
        await conn.fetch(
            """SELECT prefix, purpose, state, created_at, revoked_at FROM platform.api_keys
               WHERE tenant_id = $1 ORDER BY created_at""",
            tenant_id,
        )
    )


async def revoke(
    conn: Connection,
    tenant_id: uuid.UUID,
    *,
    purpose: str | None = None,
    keep: str | None = None,
) -> int:
    """Revoke the tenant's keys (of one purpose, or all; all but `keep`); returns how many."""
    result: str = await conn.execute(
        """UPDATE platform.api_keys SET state = 'revoked', revoked_at = now()
           WHERE tenant_id = $1 AND state <> 'revoked'
             AND ($2::text IS NULL OR purpose = $2) AND prefix IS DISTINCT FROM $3""",
        tenant_id,
        purpose,
        keep,
    )
    return int(result.split()[-1])


async def set_suspended(conn: Connection, tenant_id: uuid.UUID, suspended: bool) -> int:
    """Suspend the tenant's active keys, or restore the suspended ones; revoked keys stay revoked."""
    before, after = ("active", "suspended") if suspended else ("suspended", "active")
    result: str = await conn.execute(
        "UPDATE platform.api_keys SET state = $3 WHERE tenant_id = $1 AND state = $2",
        tenant_id,
        before,
        after,
    )
    return int(result.split()[-1])
