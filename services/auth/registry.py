"""Auth's access to the platform registry (meridian_platform): a pool, migrations, and the role.

Every query runs as the registry's role without BYPASSRLS (`connection.APP_ROLE`): tenant-scoped
ones through `scoped` (`db.tenant_connection`), the two lookups made before a tenant is known
(`users.find_tenant`, `apikeys.find`: SECURITY DEFINER functions) through `unscoped`.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
from aiohttp import web

from meridian.core import migrations
from meridian.core import registry as core_registry
from meridian.core.registry import connection
from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import db
from meridian.services.auth import MIGRATIONS
from meridian.services.auth.settings import Settings

POOL = web.AppKey("registry_pool", asyncpg.Pool)


def platform_dsn(settings: Settings) -> str:
    if settings.platform_dsn is None:
        raise ValueError("auth: platform_dsn (MERIDIAN_AUTH_PLATFORM_DSN) is not configured")
    return settings.platform_dsn.get_secret_value()


async def migrate(settings: Settings) -> None:
    """Both of auth's schemas to head: the registry's (users) and auth's own (signing keys)."""
    await migrations.upgrade(platform_dsn(settings), core_registry.MIGRATIONS)
    if settings.pg_dsn is None:
        raise ValueError("auth: pg_dsn (MERIDIAN_AUTH_PG_DSN) is not configured")
    await migrations.upgrade(settings.pg_dsn.get_secret_value(), MIGRATIONS)


async def create_pool(settings: Settings) -> db.Pool:
    return await db.create_pool(
        platform_dsn(settings),
        application_name=settings.name,
        statement_timeout_ms=settings.statement_timeout_ms,
        min_size=settings.pg_pool_min,
        max_size=settings.platform_pool_max,
    )


@contextlib.asynccontextmanager
async def unscoped(pool: db.Pool) -> AsyncIterator[db.Connection]:
    """A transaction as `meridian_app` with no tenant set: RLS shows no tenant's rows."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(f"SET LOCAL ROLE {db.quote_ident(connection.APP_ROLE)}")
        yield conn


def scoped(
    pool: db.Pool, tenant_id: uuid.UUID
) -> contextlib.AbstractAsyncContextManager[db.Connection]:
    return db.tenant_connection(pool, tenant_id, role=connection.APP_ROLE)


def pool_context(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry: migrations run, the registry pool into `app[POOL]`, readiness."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        await migrate(settings)
        pool = await create_pool(settings)
        app[POOL] = pool
        app[runtime_app.READINESS].add("registry", lambda: db.ping(pool))
        try:
            yield
        finally:
            await pool.close()

    return context
