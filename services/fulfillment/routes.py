"""Fulfillment's HTTP API: read-only shipments of the caller's tenant (the gateway's identity)."""

from __future__ import annotations

import uuid

import pydantic
from aiohttp import web

from meridian.core.runtime import db, problems
from meridian.services.fulfillment import models, store
from meridian.services.fulfillment.settings import SETTINGS
from meridian.services.kit import contracts
from meridian.services.kit.trust import identity


async def list_shipments(request: web.Request) -> web.Response:
    tenant_id = identity.of(request, needs=contracts.ORDERS_READ).tenant_id
    try:
        query = models.ShipmentQuery.model_validate(dict(request.query))
    except pydantic.ValidationError as error:
        raise problems.from_validation_error(error) from error
    async with db.tenant_connection(
        request.app[db.POOL], tenant_id, role=request.app[SETTINGS].db_role
    ) as conn:
        found = await store.find(conn, order_id=query.order_id, limit=query.limit)
    return web.json_response(text=models.ShipmentList(items=found).model_dump_json())


async def get_shipment(request: web.Request) -> web.Response:
    tenant_id = identity.of(request, needs=contracts.ORDERS_READ).tenant_id
    try:
        shipment_id = uuid.UUID(request.match_info["id"])
    except ValueError:
        raise problems.NotFound("No such shipment") from None
    async with db.tenant_connection(
        request.app[db.POOL], tenant_id, role=request.app[SETTINGS].db_role
    ) as conn:
        shipment = await store.get(conn, shipment_id)
    if shipment is None:
        raise problems.NotFound("No such shipment")
    return web.json_response(text=shipment.model_dump_json())


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/fulfillment/shipments", list_shipments)
    app.router.add_get("/v1/fulfillment/shipments/{id}", get_shipment)
