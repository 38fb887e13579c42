"""Billing's HTTP API for the caller's tenant (the gateway's identity; RLS scopes rows): usage,
invoices with their lines and reconciliation, and an invoice on demand (billing:admin)."""

from __future__ import annotations

import uuid
from typing import Any

import pydantic
from aiohttp import web

from meridian.core.runtime import db, problems
from meridian.services.billing import invoicing, models, periods, registry, store
from meridian.services.billing.settings import SETTINGS
from meridian.services.kit import contracts
from meridian.services.kit.trust import identity


def _query(model: type[pydantic.BaseModel], request: web.Request) -> Any:
    try:
        return model.model_validate(dict(request.query))
    except pydantic.ValidationError as error:
        raise problems.from_validation_error(error) from error


async def get_usage(request: web.Request) -> web.Response:
    tenant_id = identity.of(request, needs=contracts.BILLING_READ).tenant_id
    query: models.UsageQuery = _query(models.UsageQuery, request)
    period = periods.current() if query.period is None else periods.parse(query.period)
    async with db.tenant_connection(
        request.app[db.POOL], tenant_id, role=request.app[SETTINGS].db_role
    ) as connection:
        quantities, updated_at = await store.usage(connection, period)
    report = models.UsageReport(
        period=periods.name(period),
        period_start=period,
        period_end=periods.end_of(period),
        usage=models.Usage.model_validate(quantities),
        updated_at=updated_at,
    )
    return web.json_response(text=report.model_dump_json())


async def _invoice(connection: db.Connection, row: Any, *, reconcile: bool) -> models.Invoice:
    lines = [
        models.InvoiceLine(
            product=line["product"],
            quantity=line["quantity"],
            unit_amount_decimal=str(line["unit_amount_decimal"].normalize()),
            amount_cents=line["amount_cents"],
            stripe_invoice_item_id=line["stripe_invoice_item_id"],
        )
        for line in await store.lines(connection, row["id"])
    ]
    reconciliation = None
    if reconcile:
        metered, _ = await store.usage(connection, row["period"])
        invoiced = {line.product: line.quantity for line in lines}
        reconciliation = models.Reconciliation(
            matches=all(invoiced.get(p, 0) == q for p, q in metered.items()),
            metered=models.Usage.model_validate(metered),
        )
    return models.Invoice(
        **{**dict(row), "id": str(row["id"]), "period": periods.name(row["period"])},
        amount_cents=sum(line.amount_cents for line in lines),
        lines=lines,
        reconciliation=reconciliation,
    )


async def list_invoices(request: web.Request) -> web.Response:
    tenant_id = identity.of(request, needs=contracts.BILLING_READ).tenant_id
    query: models.InvoiceQuery = _query(models.InvoiceQuery, request)
    async with db.tenant_connection(
        request.app[db.POOL], tenant_id, role=request.app[SETTINGS].db_role
    ) as connection:
        rows = await store.invoices(connection, query.limit)
        items = [await _invoice(connection, row, reconcile=False) for row in rows]
    return web.json_response(text=models.InvoiceList(items=items).model_dump_json())


async def get_invoice(request: web.Request) -> web.Response:
    tenant_id = identity.of(request, needs=contracts.BILLING_READ).tenant_id
    try:
        invoice_id = uuid.UUID(request.match_info["id"])
    except ValueError:
        raise problems.NotFound("No such invoice") from None
    async with db.tenant_connection(
        request.app[db.POOL], tenant_id, role=request.app[SETTINGS].db_role
    ) as connection:
        row = await store.invoice(connection, invoice_id)
        if row is None:
            raise problems.NotFound("No such invoice")
        found = await _invoice(connection, row, reconcile=True)
    return web.json_response(text=found.model_dump_json())


async def create_invoice(request: web.Request) -> web.Response:
    tenant_id = identity.of(request, needs=contracts.BILLING_ADMIN).tenant_id
    try:
        body = models.InvoiceRequest.model_validate_json(await request.read() or b"{}")
    except pydantic.ValidationError as error:
        raise problems.from_validation_error(error) from error
    period = periods.current() if body.period is None else periods.parse(body.period)
    app = request.app
    invoice_id, created = await invoicing.generate(
        app[db.POOL], app[registry.POOL], app[SETTINGS], tenant_id, period
    )
    app[invoicing.REPORTER].wake.set()
    async with db.tenant_connection(app[db.POOL], tenant_id, role=app[SETTINGS].db_role) as conn:
        row = await store.invoice(conn, invoice_id)
        assert row is not None
        found = await _invoice(conn, row, reconcile=True)
    return web.json_response(text=found.model_dump_json(), status=201 if created else 200)


async def get_account(request: web.Request) -> web.Response:
    tenant_id = identity.of(request, needs=contracts.BILLING_READ).tenant_id
    async with db.tenant_connection(
        request.app[db.POOL], tenant_id, role=request.app[SETTINGS].db_role
    ) as connection:
        row = await store.account(connection)
    found = (
        models.Account(status="active", customer_id=None, past_due_since=None, suspended_at=None,
                       last_event_id=None, last_event_type=None, refunded_cents=0, updated_at=None)
        if row is None
        else models.Account.model_validate(dict(row))
    )  # fmt: skip
    return web.json_response(text=found.model_dump_json())


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/billing/account", get_account)
    app.router.add_get("/v1/billing/usage", get_usage)
    app.router.add_get("/v1/billing/invoices", list_invoices)
    app.router.add_post("/v1/billing/invoices", create_invoice)
    app.router.add_get("/v1/billing/invoices/{id}", get_invoice)
