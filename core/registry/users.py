"""Tenants' users: who may log in, with which password hash and scopes.

Written and read by the auth service, always inside
`db.tenant_connection(..., role=connection.APP_ROLE)` so row-level security scopes every query to
one tenant. The password hash is opaque here (auth chooses the algorithm); emails are stored
lower-cased, unique per tenant.
"""

from __future__ import annotations

import uuid
from typing import Literal, NamedTuple

import asyncpg

from meridian.core.registry.connection import Connection

UserState = Literal["active", "disabled"]


class TenantRef(NamedTuple):
    id: uuid.UUID
    state: str


class User(NamedTuple):
    id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    password_hash: str
    scopes: list[str]
    state: UserState


class DuplicateEmail(Exception):
    def __init__(self, email: str) -> None:
        super().__init__(f"A user with email {email!r} already exists in this tenant")
        self.email = email


def normalize_email(email: str) -> str:
    return email.strip().lower()


async def find_tenant(conn: Connection, name: str) -> TenantRef | None:
    """The tenant named `name` (through the SECURITY DEFINER lookup: no tenant is set yet)."""
    row = await conn.fetchrow("SELECT * FROM platform.find_tenant($1)", name)
    return None if row is None else TenantRef(row["tenant_id"], row["tenant_state"])


async def insert(
    conn: Connection,
    tenant_id: uuid.UUID,
    *,
    email: str,
    password_hash: str,
    scopes: list[str],
) -> uuid.UUID:
    email = normalize_email(email)
    user_id: uuid.UUID | None = await conn.fetchval(
        """INSERT INTO platform.users (tenant_id, email, password_hash, scopes)
           VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id, email) DO NOTHING RETURNING id""",
        tenant_id,
        email,
        password_hash,
        scopes,
    )
    if user_id is None:
        raise DuplicateEmail(email)
    return user_id


def _user(row: asyncpg.Record) -> User:
    return User(
        row["id"],
        row["tenant_id"],
        row["email"],
        row["password_hash"],
        list(row["scopes"]),
        row["state"],
    )


async def by_email(conn: Connection, tenant_id: uuid.UUID, email: str) -> User | None:
    row = await conn.fetchrow(
        "SELECT * FROM platform.users WHERE tenant_id = $1 AND email = $2",
        tenant_id,
        normalize_email(email),
    )
    return None if row is None else _user(row)


async def by_id(conn: Connection, tenant_id: uuid.UUID, user_id: uuid.UUID) -> User | None:
    row = await conn.fetchrow(
        "SELECT * FROM platform.users WHERE tenant_id = $1 AND id = $2", tenant_id, user_id
    )
    return None if row is None else _user(row)


async def set_password_hash(
    conn: Connection, tenant_id: uuid.UUID, user_id: uuid.UUID, password_hash: str
) -> None:
    await conn.execute(
        "UPDATE platform.users SET password_hash = $3 WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        user_id,
        password_hash,
    )


async def set_scopes(
    conn: Connection, tenant_id: uuid.UUID, user_id: uuid.UUID, scopes: list[str]
) -> None:
    await conn.execute(
        "UPDATE platform.users SET scopes = $3 WHERE tenant_id = $1 AND id = $2",
        tenant_id,
        user_id,
        scopes,
    )
