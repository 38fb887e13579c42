"""The tenant rows of the registry: written by the Tenant operator, read by auth and the gateway."""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

import asyncpg

from meridian.core.registry.connection import Connection
from meridian.core.registry.ratelimits import RateLimit

TenantState = Literal["active", "suspended"]
# What a Retain offboarding exports, and the column naming the tenant. Refresh tokens are not
# kept: they are sessions, worthless after the deletion and a risk in a backup.
EXPORTED_TABLES = {"tenants": "id", "api_keys": "tenant_id", "users": "tenant_id"}


class TenantRecord(NamedTuple):
    """What the operator asserts about a tenant; the registry converges to it."""

    name: str
    tier: str
    region: str
    display_name: str
    state: TenantState
    limits: Mapping[str, Any]
    rate_limit: RateLimit


async def upsert(conn: Connection, record: TenantRecord) -> uuid.UUID:
    """Insert or update by name; an unchanged row is not rewritten. Returns the tenant id."""
    values = (
        record.name,
        record.tier,
        record.region,
        record.display_name,
        record.state,
        json.dumps(dict(record.limits), sort_keys=True),
        record.rate_limit.requests_per_second,
        record.rate_limit.burst,
    )
    tenant_id: uuid.UUID | None = await conn.fetchval(
        """INSERT INTO platform.tenants AS t
               (name, tier, region, display_name, state, limits, rate_limit_rps, rate_limit_burst)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8)
           ON CONFLICT (name) DO UPDATE SET
               tier = EXCLUDED.tier, region = EXCLUDED.region,
               display_name = EXCLUDED.display_name, state = EXCLUDED.state,
               limits = EXCLUDED.limits, rate_limit_rps = EXCLUDED.rate_limit_rps,
               rate_limit_burst = EXCLUDED.rate_limit_burst, updated_at = now()
           WHERE (t.tier, t.region, t.display_name, t.state, t.limits, t.rate_limit_rps,
                  t.rate_limit_burst)
                 IS DISTINCT FROM (EXCLUDED.tier, EXCLUDED.region, EXCLUDED.display_name,
                  EXCLUDED.state, EXCLUDED.limits, EXCLUDED.rate_limit_rps,
                  EXCLUDED.rate_limit_burst)
           RETURNING id""",
        *values,
    )
    if tenant_id is None:  # nothing changed: the row exists as asserted
        tenant_id = await conn.fetchval(
            "SELECT id FROM platform.tenants WHERE name = $1", record.name
        )
    assert tenant_id is not None
    return tenant_id


async def find(conn: Connection, name: str) -> asyncpg.Record | None:
    row: asyncpg.Record | None = await conn.fetchrow(
        "SELECT * FROM platform.tenants WHERE name = $1", name
    )
    return row


async def rate_limit(conn: Connection, tenant_id: uuid.UUID) -> RateLimit | None:
    """The tenant's limit as the operator last wrote it (the gateway's read on a cache miss)."""
    row = await conn.fetchrow(
        "SELECT rate_limit_rps, rate_limit_burst FROM platform.tenants WHERE id = $1", tenant_id
    )
    return None if row is None else RateLimit(row["rate_limit_rps"], row["rate_limit_burst"])


async def state_of(conn: Connection, tenant_id: uuid.UUID) -> TenantState | None:
    """Whether the tenant is active or suspended; None when the registry does not know it."""
    state: TenantState | None = await conn.fetchval(
        "SELECT state FROM platform.tenants WHERE id = $1", tenant_id
    )
    return state


async def is_registered(conn: Connection, name: str) -> bool:
    """Whether a tenant named `name` has a row; False, not an error, before the registry's
    migrations ran (the local platform polls this while the Tenant operator starts)."""
    # Two statements: one naming the table fails to plan while the table does not exist.
    if not await conn.fetchval("SELECT to_regclass('platform.tenants') IS NOT NULL"):
        return False
    found = await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM platform.tenants WHERE name = $1)", name
    )
    return bool(found)


async def record_billing(
    conn: Connection,
    tenant_id: uuid.UUID,
    *,
    customer_id: str | None = None,
    subscription_id: str | None = None,
    price_key: str | None = None,
) -> None:
    """Remember what exists in Stripe, field by field (None leaves a field as it is)."""
    await conn.execute(
        """UPDATE platform.tenants SET
               stripe_customer_id = coalesce($2, stripe_customer_id),
               stripe_subscription_id = coalesce($3, stripe_subscription_id),
               billing_price_key = coalesce($4, billing_price_key),
               updated_at = now()
           WHERE id = $1""",
        tenant_id,
        customer_id,
        subscription_id,
        price_key,
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, uuid.UUID | datetime.datetime):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    return value


async def export(conn: Connection, tenant_id: uuid.UUID) -> dict[str, list[str]]:
    """Every registry row the tenant owns, per table, as JSON Lines (one JSON object per line)."""
    exported: dict[str, list[str]] = {}
    for table, column in EXPORTED_TABLES.items():
        rows = await conn.fetch(
            f"SELECT * FROM platform.{table} WHERE {column} = $1 ORDER BY created_at", tenant_id
        )
        exported[table] = [
            json.dumps({key: _jsonable(value) for key, value in row.items()}, sort_keys=True)
            for row in rows
        ]
    return exported


async def delete(conn: Connection, tenant_id: uuid.UUID) -> None:
    """Remove the tenant and (by cascade) everything it owns in the registry."""
    await conn.execute("DELETE FROM platform.tenants WHERE id = $1", tenant_id)
