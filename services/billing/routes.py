"""Billing's HTTP API: the caller's tenant's usage (the gateway's identity; RLS scopes rows)."""

from __future__ import annotations

import pydantic
from aiohttp import web

from meridian.core.runtime import db, problems
from meridian.services.billing import models, periods, store
from meridian.services.billing.settings import SETTINGS
from meridian.services.kit import contracts
from meridian.services.kit.trust import identity


async def get_usage(request: web.Request) -> web.Response:
    tenant_id = identity.of(request, needs=contracts.BILLING_READ).tenant_id
    try:
        query = models.UsageQuery.model_validate(dict(request.query))
    except pydantic.ValidationError as error:
        raise problems.from_validation_error(error) from error
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


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/billing/usage", get_usage)
