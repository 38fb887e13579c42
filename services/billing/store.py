"""Billing's SQL. Tenant data runs on a `db.tenant_connection` (RLS scopes the rows); applying a
usage batch, which spans tenants, sets the tenant per statement inside one transaction."""

from __future__ import annotations

import contextlib
import datetime
from collections.abc import AsyncIterator

from meridian.core.runtime import db
from meridian.services.billing import periods
from meridian.services.kit import contracts


@contextlib.asynccontextmanager
async def transaction(pool: db.Pool, role: str) -> AsyncIterator[db.Connection]:
    """A transaction as the service's role, for work that is not one tenant's."""
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(f"SET LOCAL ROLE {db.quote_ident(role)}")
        yield connection


async def apply_batch(connection: db.Connection, batch: contracts.UsageBatch) -> bool:
    """Add the batch's counts once: False (nothing written) when its id was applied before. The
    batch id and the counts commit in the caller's one transaction."""
    first = await connection.fetchval(
        "INSERT INTO usage_batches (batch_id, source, sealed_at, requests)"
        " VALUES ($1, $2, $3, $4) ON CONFLICT (batch_id) DO NOTHING RETURNING true",
        batch.batch_id,
        batch.source,
        batch.sealed_at,
        sum(count.quantity for count in batch.counts),
    )
    if not first:
        return False
    period = periods.start_of(batch.sealed_at)
    for count in batch.counts:
        await connection.execute(
            "SELECT set_config($1, $2, true)", db.TENANT_SETTING, str(count.tenant_id)
        )
        await connection.execute(
            "INSERT INTO usage (tenant_id, period, product, quantity) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (tenant_id, period, product)"
            " DO UPDATE SET quantity = usage.quantity + EXCLUDED.quantity, updated_at = now()",
            count.tenant_id,
            period,
            count.product,
            count.quantity,
        )
    return True


async def usage(
    connection: db.Connection, period: datetime.date
) -> tuple[dict[str, int], datetime.datetime | None]:
    """The tenant's metered quantity per product in `period` (every product, 0 when none), and
    when it last changed."""
    rows = await connection.fetch(
        "SELECT product, quantity, updated_at FROM usage WHERE period = $1", period
    )
    quantities: dict[str, int] = dict.fromkeys(contracts.PRODUCTS, 0)
    quantities.update({row["product"]: int(row["quantity"]) for row in rows})
    return quantities, max((row["updated_at"] for row in rows), default=None)
