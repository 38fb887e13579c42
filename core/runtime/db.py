"""PostgreSQL for services: one pool per app, and the only way to run tenant-scoped queries.

Row-level security policies read the tenant from the transaction-local setting
`meridian.tenant_id` (`USING (tenant_id = current_setting('meridian.tenant_id')::uuid)`).
`tenant_connection` sets it with `set_config(..., is_local => true)`, in the same round trip as
`BEGIN`, so the value vanishes at commit or rollback and a pooled connection never carries one
tenant's id into another request. The pool's role must not be a superuser nor own the tables
without FORCE ROW LEVEL SECURITY, or the policies are bypassed.

Because every setting we make is transaction-local, a released connection is not `RESET ALL`
(asyncpg's default costs a round trip per release); asyncpg still rolls back an open transaction.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TypeAlias

import asyncpg
from aiohttp import web
from asyncpg import pool as asyncpg_pool

from meridian.core import migrations
from meridian.core.runtime import app as runtime_app
from meridian.core.runtime.settings import PostgresSettings

# Quoted: asyncpg's classes are generic only in its stubs, not at runtime.
Pool: TypeAlias = "asyncpg.Pool[asyncpg.Record]"
Connection: TypeAlias = (
    "asyncpg.Connection[asyncpg.Record] | asyncpg_pool.PoolConnectionProxy[asyncpg.Record]"
)
"""A plain or pooled connection: what helpers that run inside the caller's transaction take."""

TENANT_SETTING = "meridian.tenant_id"
POOL = web.AppKey("pg_pool", asyncpg.Pool)


async def create_pool(
    dsn: str,
    *,
    application_name: str,
    statement_timeout_ms: int = 5_000,
    min_size: int = 1,
    max_size: int = 10,
    connect_timeout_s: float = 60.0,
) -> Pool:
    """A pool whose every connection names itself in pg_stat_activity and times out queries."""
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        timeout=connect_timeout_s,
        reset=_keep_session,
        server_settings={
            "application_name": application_name,
            "statement_timeout": str(statement_timeout_ms),
        },
    )


async def _keep_session(_connection: asyncpg.Connection[asyncpg.Record]) -> None:
    """Release without `RESET ALL`: our settings are transaction-local (see the module's doc)."""


async def ping(pool: Pool) -> None:
    """Readiness: a connection can be taken from the pool and answers a query."""
    await pool.fetchval("SELECT 1")


@contextlib.asynccontextmanager
async def tenant_connection(
    pool: Pool, tenant_id: uuid.UUID, *, role: str | None = None
) -> AsyncIterator[Connection]:
    """A connection inside a transaction that RLS policies see as `tenant_id`'s.

    `role`: the service's NOLOGIN application role (no BYPASSRLS), taken for the transaction only
    (`set_config('role', ..., true)` is `SET LOCAL ROLE`), so the policies bind even when the pool
    logs in as the tables' owner or, locally, as a superuser.
    """
    if not isinstance(tenant_id, uuid.UUID):
        raise TypeError(f"tenant_id must be a UUID, got {type(tenant_id).__name__}")
    settings = f"set_config({quote_literal(TENANT_SETTING)}, '{tenant_id}', true)"
    if role is not None:
        settings += f", set_config('role', {quote_literal(role)}, true)"
    async with pool.acquire() as connection:
        # One round trip for both (the simple protocol takes several statements, no parameters:
        # the values are a UUID's text and a quoted literal).
        await connection.execute(f"BEGIN; SELECT {settings}")
        try:
            yield connection
        except BaseException:
            if not connection.is_closed():
                with contextlib.suppress(Exception):
                    await connection.execute("ROLLBACK")
            raise
        await connection.execute("COMMIT")


def migrations_context(
    settings: PostgresSettings, folder: Path
) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry before the pool's: the service's schema is at head before it serves."""

    async def context(_app: web.Application) -> AsyncIterator[None]:
        await migrations.upgrade(runtime_app.required(settings, settings.pg_dsn, "pg_dsn"), folder)
        yield

    return context


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier, double-quoted (for the places bind parameters cannot go)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """A PostgreSQL string literal (standard_conforming_strings, the default since 9.1)."""
    if "\x00" in value:
        raise ValueError("a PostgreSQL string cannot contain NUL")
    return "'" + value.replace("'", "''") + "'"


def pool_context(settings: PostgresSettings) -> runtime_app.CleanupContext:
    """A `cleanup_ctx` entry: opens the pool into `app[POOL]`, adds the "postgres" readiness check."""

    async def create() -> Pool:
        return await create_pool(
            runtime_app.required(settings, settings.pg_dsn, "pg_dsn"),
            application_name=settings.name,
            statement_timeout_ms=settings.statement_timeout_ms,
            min_size=settings.pg_pool_min,
            max_size=settings.pg_pool_max,
        )

    return runtime_app.dependency(
        POOL, check="postgres", create=create, close=asyncpg.Pool.close, ping=ping
    )
