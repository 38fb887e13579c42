"""Refresh tokens: opaque, single-use, stored as SHA-256 digests, grouped in families.

A token is `mrt_<tenant id hex>_<secret>`. The tenant id is not secret (the access token carries
it too) and lets the lookup run under the tenant's row-level security instead of a cross-tenant
function; the secret is 256 random bits, so a fast hash suffices (as for API keys).

Rotation: `use` marks a token used and returns its row exactly once (concurrent presenters race
on one UPDATE); the caller then issues the successor in the same family. A token presented again
after use is a replay (someone kept a copy): `revoke_family` ends every token of that login.
"""

from __future__ import annotations

import datetime
import hashlib
import secrets
import uuid
from typing import Literal, NamedTuple

import asyncpg

from meridian.core.registry.connection import Connection

SCHEME = "mrt"


class RefreshToken(NamedTuple):
    tenant_id: uuid.UUID
    secret: str

    @property
    def token(self) -> str:
        return f"{SCHEME}_{self.tenant_id.hex}_{self.secret}"

    @property
    def digest(self) -> bytes:
        return hashlib.sha256(self.token.encode()).digest()


def generate(tenant_id: uuid.UUID) -> RefreshToken:
    return RefreshToken(tenant_id, secrets.token_urlsafe(32))


def parse(token: str) -> RefreshToken:
    """Split a presented token; ValueError when it is not one of ours."""
    scheme, _, rest = token.partition("_")
    tenant_hex, _, secret = rest.partition("_")
    if scheme != SCHEME or len(tenant_hex) != 32 or len(secret) < 32:
        raise ValueError("not a Meridian refresh token")
    return RefreshToken(uuid.UUID(hex=tenant_hex), secret)


async def insert(
    conn: Connection,
    token: RefreshToken,
    *,
    user_id: uuid.UUID,
    family_id: uuid.UUID,
    expires_at: datetime.datetime,
) -> uuid.UUID:
    token_id: uuid.UUID = await conn.fetchval(
        """INSERT INTO platform.refresh_tokens
               (tenant_id, user_id, family_id, token_sha256, expires_at)
           VALUES ($1, $2, $3, $4, $5) RETURNING id""",
        token.tenant_id,
        user_id,
        family_id,
        token.digest,
        expires_at,
    )
    return token_id


Outcome = Literal["ok", "unknown", "expired", "revoked", "replayed"]


class Use(NamedTuple):
    outcome: Outcome
    row: asyncpg.Record | None


async def use(conn: Connection, token: RefreshToken) -> Use:
    """Spend `token`: "ok" with its row exactly once; otherwise why not (row when known)."""
    spent = await conn.fetchrow(
        """UPDATE platform.refresh_tokens SET used_at = now()
           WHERE tenant_id = $1 AND token_sha256 = $2
             AND used_at IS NULL AND revoked_at IS NULL AND expires_at > now()
           RETURNING *""",
        token.tenant_id,
        token.digest,
    )
    if spent is not None:
        return Use("ok", spent)
    row = await find(conn, token)
    if row is None:
        return Use("unknown", None)
    if row["revoked_at"] is not None:
        return Use("revoked", row)
    if row["used_at"] is not None:
        return Use("replayed", row)
    return Use("expired", row)


async def revoke_family(conn: Connection, tenant_id: uuid.UUID, family_id: uuid.UUID) -> int:
    """Revoke every live token of a family; returns how many."""
    result: str = await conn.execute(
        """UPDATE platform.refresh_tokens SET revoked_at = now()
           WHERE tenant_id = $1 AND family_id = $2 AND revoked_at IS NULL""",
        tenant_id,
        family_id,
    )
    return int(result.split()[-1])


async def find(conn: Connection, token: RefreshToken) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM platform.refresh_tokens WHERE tenant_id = $1 AND token_sha256 = $2",
        token.tenant_id,
        token.digest,
    )
    return row
