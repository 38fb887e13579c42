"""Period end: each tenant's invoice of a closed period, generated once without anyone asking.

Every `close_interval_s` the closer finds each (tenant, period) with metered usage and no invoice
yet whose period (a UTC calendar month) ended at least `close_after_s` ago, the wait that lets the
gateway's late batches of the period land first, and generates its invoice with
`invoicing.generate`, the same call as an invoice on demand. That call is idempotent per tenant and
period (UNIQUE (tenant_id, period), uuid5 id): several billing replicas closing at once, or a pass
racing a `POST /v1/billing/invoices`, still make one invoice each; the loser finds it there and
writes nothing. Earlier periods missed while billing was down are caught up the same way, oldest
first. The reporter then takes the invoices to Stripe like any other.
"""

from __future__ import annotations

import datetime
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from meridian.core.runtime import db, periodic
from meridian.core.runtime import logging as meridian_logging
from meridian.services.billing import invoicing, periods, registry, store
from meridian.services.billing.settings import Settings

log = meridian_logging.get_logger("meridian.services.billing.closing")


def closed_before(now: datetime.datetime, close_after_s: float) -> datetime.date:
    """The first period not yet closed for invoicing at `now`: every earlier one ended at least
    `close_after_s` ago."""
    return periods.start_of(now - datetime.timedelta(seconds=close_after_s))


async def close_once(
    pool: db.Pool,
    registry_pool: db.Pool,
    settings: Settings,
    *,
    now: datetime.datetime | None = None,
) -> int:
    """One pass; returns how many invoices this call created (0 when another replica did)."""
    before = closed_before(now or datetime.datetime.now(datetime.UTC), settings.close_after_s)
    created = 0
    while True:
        async with store.transaction(pool, settings.db_role) as connection:
            work = await store.uninvoiced(connection, before, settings.invoice_batch)
        for tenant_id, period in work:
            _, fresh = await invoicing.generate(pool, registry_pool, settings, tenant_id, period)
            created += fresh
        # Each entry has its invoice now (ours or another replica's; a failure raises), so the
        # next query returns only others: a full batch means there may be more.
        if len(work) < settings.invoice_batch:
            break
    if created:
        log.info("Invoiced closed periods", invoices=created, before=periods.name(before))
    return created


def context(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry after the pools' and the reporter's: closes periods while the app
    runs (the reporter's next pass takes what it generated)."""

    async def closing(app: web.Application) -> AsyncIterator[None]:
        async with periodic.running(
            lambda: close_once(app[db.POOL], app[registry.POOL], settings),
            every_s=settings.close_interval_s,
            name="period-closer",
            failure="Closing billing periods failed",
        ):
            yield

    return closing
