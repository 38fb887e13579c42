"""Billing's SQL. Tenant data runs on a `db.tenant_connection` (RLS scopes the rows); applying a
usage batch, which spans tenants, sets the tenant per statement inside one transaction."""

from __future__ import annotations

import contextlib
import datetime
import decimal
import uuid
from collections.abc import AsyncIterator

import asyncpg

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


# --- invoices ------------------------------------------------------------------------------

INVOICE_COLUMNS = (
    "id, period, status, customer_id, stripe_invoice_id, attempts, next_attempt_at, last_error,"
    " created_at, reported_at"
)


async def create_invoice(
    connection: db.Connection,
    *,
    invoice_id: uuid.UUID,
    tenant_id: uuid.UUID,
    period: datetime.date,
    customer_id: str | None,
    lines: list[tuple[str, int, decimal.Decimal, int]],
) -> bool:
    """The invoice and its lines (product, quantity, unit amount, amount in cents) in the
    caller's transaction; False, writing nothing, when the tenant's period has one already."""
    created = await connection.fetchval(
        "INSERT INTO invoices (id, tenant_id, period, status, customer_id)"
        " VALUES ($1, $2, $3, 'queued', $4)"
        " ON CONFLICT (tenant_id, period) DO NOTHING RETURNING true",
        invoice_id,
        tenant_id,
        period,
        customer_id,
    )
    if not created:
        return False
    await connection.executemany(
        "INSERT INTO invoice_lines"
        " (invoice_id, tenant_id, product, quantity, unit_amount_decimal, amount_cents)"
        " VALUES ($1, $2, $3, $4, $5, $6)",
        [(invoice_id, tenant_id, *line) for line in lines],
    )
    return True


async def uninvoiced(
    connection: db.Connection, before: datetime.date, limit: int
) -> list[tuple[uuid.UUID, datetime.date]]:
    """(tenant, period) of every period before `before` with metered usage and no invoice yet,
    every tenant's, oldest period first."""
    rows = await connection.fetch(
        "SELECT tenant_id, period FROM usage_uninvoiced($1, $2)", before, limit
    )
    return [(row["tenant_id"], row["period"]) for row in rows]


async def invoice(connection: db.Connection, invoice_id: uuid.UUID) -> asyncpg.Record | None:
    return await connection.fetchrow(
        f"SELECT {INVOICE_COLUMNS} FROM invoices WHERE id = $1", invoice_id
    )


async def invoices(connection: db.Connection, limit: int) -> list[asyncpg.Record]:
    return await connection.fetch(
        f"SELECT {INVOICE_COLUMNS} FROM invoices ORDER BY period DESC, created_at DESC LIMIT $1",
        limit,
    )


async def lines(connection: db.Connection, invoice_id: uuid.UUID) -> list[asyncpg.Record]:
    return await connection.fetch(
        "SELECT product, quantity, unit_amount_decimal, amount_cents, stripe_invoice_item_id"
        " FROM invoice_lines WHERE invoice_id = $1 ORDER BY product",
        invoice_id,
    )


async def due_invoices(connection: db.Connection, limit: int) -> list[asyncpg.Record]:
    """(tenant_id, id) of invoices waiting for Stripe whose time has come, every tenant's."""
    return await connection.fetch("SELECT tenant_id, id FROM invoices_due($1)", limit)


async def claim(connection: db.Connection, invoice_id: uuid.UUID) -> asyncpg.Record | None:
    """The invoice, locked for the caller's transaction, if it is still due (another replica
    skips it meanwhile; one that was reported since is not returned)."""
    return await connection.fetchrow(
        f"SELECT {INVOICE_COLUMNS} FROM invoices WHERE id = $1"
        " AND status IN ('queued', 'retrying') AND next_attempt_at <= now()"
        " FOR UPDATE SKIP LOCKED",
        invoice_id,
    )


async def set_customer(connection: db.Connection, invoice_id: uuid.UUID, customer: str) -> None:
    await connection.execute(
        "UPDATE invoices SET customer_id = $2 WHERE id = $1", invoice_id, customer
    )


async def record_item(
    connection: db.Connection, invoice_id: uuid.UUID, product: str, item_id: str
) -> None:
    await connection.execute(
        "UPDATE invoice_lines SET stripe_invoice_item_id = $3"
        " WHERE invoice_id = $1 AND product = $2",
        invoice_id,
        product,
        item_id,
    )


async def reported(connection: db.Connection, invoice_id: uuid.UUID, stripe_id: str) -> None:
    await connection.execute(
        "UPDATE invoices SET status = 'reported', stripe_invoice_id = $2, reported_at = now(),"
        " attempts = attempts + 1, last_error = NULL WHERE id = $1",
        invoice_id,
        stripe_id,
    )


async def failed_attempt(
    connection: db.Connection,
    invoice_id: uuid.UUID,
    *,
    error: str,
    retry_in_s: float | None,
) -> None:
    """Back to the queue in `retry_in_s`, or `failed` for good when it is None."""
    await connection.execute(
        "UPDATE invoices SET attempts = attempts + 1, last_error = $2,"
        " status = CASE WHEN $3::float8 IS NULL THEN 'failed' ELSE 'retrying' END,"
        " next_attempt_at = now() + make_interval(secs => coalesce($3::float8, 0))"
        " WHERE id = $1",
        invoice_id,
        error[:500],
        retry_in_s,
    )


async def queue_depth(connection: db.Connection) -> dict[str, tuple[int, float]]:
    """Invoices by status, each with the age of its oldest, every tenant's."""
    rows = await connection.fetch("SELECT status, invoices, oldest_s FROM invoice_queue()")
    return {row["status"]: (int(row["invoices"]), float(row["oldest_s"])) for row in rows}


# --- payment state -------------------------------------------------------------------------

ACCOUNT_COLUMNS = (
    "customer_id, status, past_due_since, suspended_at, last_event_id, last_event_type,"
    " refunded_cents, updated_at"
)


async def account(connection: db.Connection) -> asyncpg.Record | None:
    return await connection.fetchrow(f"SELECT {ACCOUNT_COLUMNS} FROM accounts")


async def record_payment_event(
    connection: db.Connection,
    *,
    tenant_id: uuid.UUID,
    customer_id: str,
    event_id: str,
    event_type: str,
    status: str | None,
    at: datetime.datetime,
    refunded_cents: int = 0,
) -> asyncpg.Record:
    """The account after one event: `status` None keeps the status; past_due keeps the first
    moment it became past due (the grace period runs from there); anything else clears it."""
    row = await connection.fetchrow(
        "INSERT INTO accounts AS a (tenant_id, customer_id, status, past_due_since,"
        " last_event_id, last_event_type, refunded_cents)"
        " VALUES ($1, $2, coalesce($5::text, 'active'),"
        " CASE WHEN $5::text = 'past_due' THEN $6::timestamptz END,"
        " $3, $4, $7)"
        " ON CONFLICT (tenant_id) DO UPDATE SET"
        " status = CASE WHEN $5 IS NULL THEN a.status"
        "   WHEN $5 = 'past_due' AND a.status = 'suspended' THEN 'suspended' ELSE $5 END,"
        " past_due_since = CASE WHEN $5 IS NULL THEN a.past_due_since"
        "   WHEN $5 = 'past_due' THEN coalesce(a.past_due_since, $6::timestamptz) ELSE NULL END,"
        " customer_id = $2, last_event_id = $3, last_event_type = $4,"
        " refunded_cents = a.refunded_cents + $7, updated_at = now()"
        f" RETURNING {ACCOUNT_COLUMNS}",
        tenant_id,
        customer_id,
        event_id,
        event_type,
        status,
        at,
        refunded_cents,
    )
    assert row is not None
    return row


async def overdue(connection: db.Connection, grace_s: float, limit: int) -> list[uuid.UUID]:
    rows = await connection.fetch(
        "SELECT tenant_id FROM accounts_overdue(make_interval(secs => $1), $2)", grace_s, limit
    )
    return [row["tenant_id"] for row in rows]


async def to_resume(connection: db.Connection, limit: int) -> list[uuid.UUID]:
    rows = await connection.fetch("SELECT tenant_id FROM accounts_to_resume($1)", limit)
    return [row["tenant_id"] for row in rows]


async def resumed(connection: db.Connection) -> None:
    await connection.execute(
        "UPDATE accounts SET suspended_at = NULL, updated_at = now() WHERE status = 'active'"
    )


async def suspended(connection: db.Connection) -> bool:
    """Mark the (locked) past-due account suspended; False when it is no longer past due."""
    status = await connection.execute(
        "UPDATE accounts SET status = 'suspended', suspended_at = now(), updated_at = now()"
        " WHERE status = 'past_due'"
    )
    return status == "UPDATE 1"
