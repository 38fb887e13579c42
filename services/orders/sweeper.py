"""Finishing what an outage interrupted: pending orders and reservations still to release.

Every `sweep_interval_s`, orders that stayed pending (inventory was unavailable, or the process
died between its two transactions) or canceled with their reservation not yet given back, and
untouched for `sweep_after_s`, are driven again as their tenant. Both steps are idempotent (the
reservation per order id, the state change guarded by the order's lock), so two replicas
sweeping at once, or a sweep racing a client's retry, settle each order once.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from meridian.core.runtime import logging as meridian_logging
from meridian.core.runtime import periodic, problems
from meridian.services.kit import contracts
from meridian.services.kit.trust import identity
from meridian.services.orders import flow, routes, store
from meridian.services.orders.settings import Settings

SUBJECT = "orders-sweeper"
log = meridian_logging.get_logger("meridian.services.orders.sweeper")


async def sweep_once(ctx: flow.Context, *, older_than: float, batch: int = 100) -> int:
    """One pass; returns how many orders it looked at."""
    async with ctx.pool.acquire() as connection, connection.transaction():
        await connection.execute(f'SET LOCAL ROLE "{ctx.role}"')
        work = await connection.fetch(
            "SELECT tenant_id, id FROM orders_unfinished($1, $2)",
            datetime.timedelta(seconds=older_than),
            batch,
        )
    for item in work:
        tenant_id, order_id = item["tenant_id"], item["id"]
        caller = identity.Identity(tenant_id, SUBJECT, frozenset({contracts.ORDERS_WRITE}))
        try:
            order = await flow.drive(ctx, caller, order_id)
            if order.state == "canceled":
                async with ctx.connection(tenant_id) as tenant_connection:
                    row = await store.get(tenant_connection, order_id)
                if row is not None and row["release_pending"]:
                    await flow.release(ctx, caller, order)
        except problems.Problem as outcome:  # e.g. unknown SKU: the order is gone, as it should
            log.info("Swept order refused", order_id=str(order_id), problem=str(outcome))
        except Exception:
            log.exception("Sweeping an order failed", order_id=str(order_id))
    return len(work)


def sweeper_context(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry after the flow's: sweeps while the app runs."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        async with periodic.running(
            lambda: sweep_once(app[routes.FLOW], older_than=settings.sweep_after_s),
            every_s=settings.sweep_interval_s,
            name="orders-sweeper",
            failure="Order sweep failed",
        ):
            yield

    return context
