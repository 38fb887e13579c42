"""Invoices: generated once per tenant and period from metered usage, then reported to Stripe
through a retry queue.

Generation (`generate`) snapshots the tenant's usage of the period into lines priced from
`unit_prices` and stores invoice and lines in one transaction; the invoice id is uuid5 of
(tenant, period) and (tenant_id, period) is unique, so asking twice, or two replicas at once,
makes one invoice. Plans themselves are billed by the Stripe subscription the Tenant operator
created; an invoice carries the metered usage on top.

Reporting (`Reporter`) takes due invoices (status queued or retrying, `next_attempt_at` passed),
creates one Stripe invoice item per non-zero line and then the Stripe invoice, each call with an
idempotency key derived from the invoice id (and the product), so a retry after a timeout or a
crash never bills twice. Stripe unreachable or failing (connection error, 429, 5xx): the invoice
goes back to the queue with exponential backoff and full jitter (`billing_invoices{status=
"retrying"}`, `billing_invoice_queue_oldest_seconds`); Stripe refusing the request (4xx): it is
`failed` for a human (logged at error, counted).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import decimal
import random
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import prometheus_client
import stripe
from aiohttp import web

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import client, db
from meridian.core.runtime import logging as meridian_logging
from meridian.services.billing import periods, registry, store
from meridian.services.billing.settings import Settings

log = meridian_logging.get_logger("meridian.services.billing.invoicing")

NAMESPACE = uuid.UUID("6f1d2a40-95c7-4b8e-9f0e-2b7f4c1a9d21")
RETRYABLE = (stripe.APIConnectionError, stripe.RateLimitError, stripe.APIError)


def invoice_id(tenant_id: uuid.UUID, period: datetime.date) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{tenant_id}/{periods.name(period)}")


def idempotency_key(invoice: uuid.UUID, *purpose: str) -> str:
    return "-".join(["meridian-invoice", str(invoice), *purpose])


def price(
    quantities: Mapping[str, int], unit_prices: Mapping[str, decimal.Decimal]
) -> list[tuple[str, int, decimal.Decimal, int]]:
    """(product, quantity, unit amount in cents, amount in cents rounded half up) per product."""
    return [
        (
            product,
            quantity,
            unit_prices[product],
            int(
                (quantity * unit_prices[product]).quantize(
                    decimal.Decimal(1), decimal.ROUND_HALF_UP
                )
            ),
        )
        for product, quantity in sorted(quantities.items())
    ]


async def generate(
    pool: db.Pool,
    registry_pool: db.Pool,
    settings: Settings,
    tenant_id: uuid.UUID,
    period: datetime.date,
) -> tuple[uuid.UUID, bool]:
    """The tenant's invoice of `period` (id, and whether this call created it)."""
    customer = await registry.customer_of(registry_pool, tenant_id)
    invoice = invoice_id(tenant_id, period)
    async with db.tenant_connection(pool, tenant_id, role=settings.db_role) as connection:
        quantities, _ = await store.usage(connection, period)
        created = await store.create_invoice(
            connection,
            invoice_id=invoice,
            tenant_id=tenant_id,
            period=period,
            customer_id=customer,
            lines=price(quantities, settings.unit_prices_cents),
        )
    if created:
        log.info("Generated invoice", invoice_id=str(invoice), tenant_id=str(tenant_id),
                 period=periods.name(period), lines=quantities)  # fmt: skip
    return invoice, created


async def mismatches(
    connection: db.Connection, invoice: uuid.UUID, period: datetime.date
) -> dict[str, tuple[int, int]]:
    """Reconciliation: product -> (invoiced, metered) where the lines differ from usage now."""
    metered, _ = await store.usage(connection, period)
    invoiced = {
        row["product"]: int(row["quantity"]) for row in await store.lines(connection, invoice)
    }
    return {
        product: (invoiced.get(product, 0), metered.get(product, 0))
        for product in sorted(set(metered) | set(invoiced))
        if invoiced.get(product, 0) != metered.get(product, 0)
    }


@dataclass(frozen=True)
class Meters:
    attempts: prometheus_client.Counter
    invoices: prometheus_client.Gauge
    oldest: prometheus_client.Gauge
    mismatched: prometheus_client.Counter


def _meters(registry_: prometheus_client.CollectorRegistry) -> Meters:
    meters = Meters(
        attempts=prometheus_client.Counter(
            "billing_invoice_report_attempts",
            "Attempts to report an invoice to Stripe, by outcome: reported, retry, failed",
            ("outcome",),
            registry=registry_,
        ),
        invoices=prometheus_client.Gauge(
            "billing_invoices",
            "Invoices by status (queued, retrying, reported, failed), as of the last pass",
            ("status",),
            registry=registry_,
        ),
        oldest=prometheus_client.Gauge(
            "billing_invoice_queue_oldest_seconds",
            "Age of the oldest invoice still waiting for Stripe (queued or retrying; 0 if none)",
            registry=registry_,
        ),
        mismatched=prometheus_client.Counter(
            "billing_reconciliation_mismatches",
            "Invoices whose lines differed from the metered totals when reported",
            registry=registry_,
        ),
    )
    for outcome in ("reported", "retry", "failed"):
        meters.attempts.labels(outcome=outcome)
    for status in ("queued", "retrying", "reported", "failed"):
        meters.invoices.labels(status=status)
    return meters


class Reporter:
    def __init__(
        self,
        pool: db.Pool,
        registry_pool: db.Pool,
        client: stripe.StripeClient,
        settings: Settings,
        meters: Meters,
    ) -> None:
        self.pool = pool
        self.registry_pool = registry_pool
        self.client = client
        self.settings = settings
        self.meters = meters
        self.wake = asyncio.Event()
        self.stopping = asyncio.Event()

    def backoff(self, attempts: int) -> float:
        ceiling = min(
            self.settings.stripe_backoff_cap_s, self.settings.stripe_backoff_base_s * 2**attempts
        )
        return random.uniform(ceiling / 2, ceiling)

    async def _push(self, row: Any, tenant_id: uuid.UUID, connection: db.Connection) -> str:
        invoice, customer = row["id"], row["customer_id"]
        metadata = {"meridian_tenant_id": str(tenant_id), "meridian_invoice_id": str(invoice),
                    "meridian_period": periods.name(row["period"])}  # fmt: skip
        for line in await store.lines(connection, invoice):
            if line["quantity"] == 0:
                continue
            key = idempotency_key(invoice, line["product"])
            item: Any = await self.client.v1.invoice_items.create_async(
                params={
                    "customer": customer,
                    "currency": self.settings.currency,
                    "quantity": int(line["quantity"]),
                    "unit_amount_decimal": line["unit_amount_decimal"].normalize(),
                    "description": f"{line['product']} {periods.name(row['period'])}",
                    # The key in metadata too: stripe-mock's log (and the dashboard) shows it.
                    "metadata": {
                        **metadata,
                        "meridian_product": line["product"],
                        "meridian_idempotency_key": key,
                    },
                },
                options={"idempotency_key": key},
            )
            await store.record_item(connection, invoice, line["product"], item.id)
        created: Any = await self.client.v1.invoices.create_async(
            params={
                "customer": customer,
                "pending_invoice_items_behavior": "include",
                "metadata": {**metadata, "meridian_idempotency_key": idempotency_key(invoice)},
            },
            options={"idempotency_key": idempotency_key(invoice)},
        )
        return str(created.id)

    async def report(self, tenant_id: uuid.UUID, invoice: uuid.UUID) -> None:
        async with db.tenant_connection(
            self.pool, tenant_id, role=self.settings.db_role
        ) as connection:
            row: Any = await store.claim(connection, invoice)
            if row is None:
                return
            wrong = await mismatches(connection, invoice, row["period"])
            if wrong:
                self.meters.mismatched.inc()
                log.error("Invoice lines differ from the metered totals", invoice_id=str(invoice),
                          differences={p: {"invoiced": i, "metered": m} for p, (i, m) in wrong.items()})  # fmt: skip
            if row["customer_id"] is None:  # generated before the operator made the customer?
                customer = await registry.customer_of(self.registry_pool, tenant_id)
                if customer is not None:
                    await store.set_customer(connection, invoice, customer)
                    row = {**dict(row), "customer_id": customer}
            if row["customer_id"] is None:
                retry = self.backoff(row["attempts"])
                await store.failed_attempt(
                    connection,
                    invoice,
                    error="the tenant has no Stripe customer yet",
                    retry_in_s=retry,
                )
                self.meters.attempts.labels(outcome="retry").inc()
                return
            try:
                stripe_id = await self._push(row, tenant_id, connection)
            except RETRYABLE as error:
                retry = self.backoff(row["attempts"])
                await store.failed_attempt(
                    connection, invoice, error=f"{type(error).__name__}: {error}", retry_in_s=retry
                )
                self.meters.attempts.labels(outcome="retry").inc()
                log.warning("Stripe unavailable; the invoice waits in the retry queue",
                            invoice_id=str(invoice), attempts=row["attempts"] + 1, retry_in_s=round(retry, 2), error=str(error)[:200])  # fmt: skip
                return
            except stripe.StripeError as error:
                await store.failed_attempt(
                    connection, invoice, error=f"{type(error).__name__}: {error}", retry_in_s=None
                )
                self.meters.attempts.labels(outcome="failed").inc()
                log.error(
                    "Stripe refused the invoice", invoice_id=str(invoice), error=str(error)[:300]
                )
                return
            await store.reported(connection, invoice, stripe_id)
        self.meters.attempts.labels(outcome="reported").inc()
        log.info("Reported invoice to Stripe", invoice_id=str(invoice), stripe_invoice_id=stripe_id)

    async def report_once(self) -> int:
        async with store.transaction(self.pool, self.settings.db_role) as connection:
            due = await store.due_invoices(connection, self.settings.invoice_batch)
        for row in due:
            await self.report(row["tenant_id"], row["id"])
        async with store.transaction(self.pool, self.settings.db_role) as connection:
            depth = await store.queue_depth(connection)
        for status in ("queued", "retrying", "reported", "failed"):
            self.meters.invoices.labels(status=status).set(depth.get(status, (0, 0.0))[0])
        waiting = [depth[s][1] for s in ("queued", "retrying") if s in depth]
        self.meters.oldest.set(max(waiting, default=0.0))
        return len(due)

    async def run(self) -> None:
        while not self.stopping.is_set():
            self.wake.clear()
            try:
                await self.report_once()
            except Exception:
                log.exception("Reporting invoices failed; retrying next pass")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.settings.invoice_interval_s)


REPORTER = web.AppKey("invoice_reporter", Reporter)


def context(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry after the pools': the Stripe client and the reporter's loop."""

    async def reporting(app: web.Application) -> AsyncIterator[None]:
        key = runtime_app.required(settings, settings.stripe_api_key, "stripe_api_key")
        http = client.create_session(
            total=settings.stripe_timeout_s, connect=settings.stripe_connect_timeout_s
        )
        stripe_client = stripe.StripeClient(
            key,
            base_addresses={"api": settings.stripe_api_base},
            http_client=stripe.AIOHTTPClient(session=http, timeout=http.timeout),
            # Our queue retries with backoff; the SDK's own retries would hide the outage.
            max_network_retries=0,
        )
        reporter = Reporter(
            app[db.POOL],
            app[registry.POOL],
            stripe_client,
            settings,
            _meters(app[runtime_app.METRICS].registry),
        )
        app[REPORTER] = reporter
        task = asyncio.create_task(reporter.run(), name="invoice-reporter")
        try:
            yield
        finally:
            reporter.stopping.set()
            reporter.wake.set()
            await task
            await http.close()

    return reporting
