"""The platform registry, read-only: each tenant's Stripe customer, which the Tenant operator
created and recorded (`operators/tenant/billing.py`). Billing never writes it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable

import asyncpg
from aiohttp import web

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import db
from meridian.services.billing.settings import Settings

POOL = web.AppKey("registry_pool", asyncpg.Pool)


async def customer_of(pool: db.Pool, tenant_id: uuid.UUID) -> str | None:
    found: str | None = await pool.fetchval(
        "SELECT stripe_customer_id FROM platform.tenants WHERE id = $1", tenant_id
    )
    return found


async def tenant_of(pool: db.Pool, customer_id: str) -> tuple[uuid.UUID, str] | None:
    """(id, name) of the tenant whose Stripe customer this is."""
    row = await pool.fetchrow(
        "SELECT id, name FROM platform.tenants WHERE stripe_customer_id = $1", customer_id
    )
    return None if row is None else (row["id"], row["name"])


async def name_of(pool: db.Pool, tenant_id: uuid.UUID) -> str | None:
    found: str | None = await pool.fetchval(
        "SELECT name FROM platform.tenants WHERE id = $1", tenant_id
    )
    return found


def context(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    async def create() -> db.Pool:
        dsn = runtime_app.required(settings, settings.platform_dsn, "platform_dsn")
        return await db.create_pool(dsn, application_name=f"{settings.name}-registry", max_size=4)

    async def close(pool: db.Pool) -> None:
        await pool.close()

    return runtime_app.dependency(POOL, check="registry", create=create, close=close, ping=db.ping)
