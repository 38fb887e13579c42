"""Orders' HTTP handlers: thin — identity, validation, then `flow` or one tenant query."""

from __future__ import annotations

import datetime
import uuid

import pydantic
from aiohttp import web

from meridian.core.runtime import payloads, problems
from meridian.services.kit import contracts
from meridian.services.kit.storage import idempotency
from meridian.services.kit.trust import identity
from meridian.services.orders import flow, models, store

FLOW = web.AppKey("order_flow", flow.Context)
IDEMPOTENCY_KEY = "Idempotency-Key"


class OrderPath(pydantic.BaseModel):
    id: uuid.UUID


class ListQuery(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    state: contracts.OrderState | None = None
    before: datetime.datetime | None = None
    limit: int = pydantic.Field(default=100, ge=1, le=500)


async def create_order(request: web.Request) -> web.Response:
    caller = identity.of(request, needs=contracts.ORDERS_WRITE)
    new = await payloads.read_json(request, models.NewOrder)
    key = request.headers.get(IDEMPOTENCY_KEY)
    fingerprint = idempotency.fingerprint(request.method, request.path, await request.read())
    return await flow.create(request.app[FLOW], caller, new, key=key, fingerprint=fingerprint)


async def get_order(request: web.Request) -> web.Response:
    caller = identity.of(request, needs=contracts.ORDERS_READ)
    order_id = payloads.parse(OrderPath, request.match_info).id
    async with request.app[FLOW].connection(caller.tenant_id) as connection:
        row = await store.get(connection, order_id)
    if row is None:
        raise problems.NotFound(f"Order {order_id} does not exist")
    return web.json_response(text=store.order_of(row).model_dump_json())


async def list_orders(request: web.Request) -> web.Response:
    caller = identity.of(request, needs=contracts.ORDERS_READ)
    query = payloads.parse(ListQuery, request.query)
    async with request.app[FLOW].connection(caller.tenant_id) as connection:
        rows = await store.page(
            connection, state=query.state, before=query.before, limit=query.limit
        )
    items = [store.order_of(row) for row in rows]
    last = items[-1].created_at if len(items) == query.limit else None
    return web.json_response(text=models.OrderList(items=items, next_before=last).model_dump_json())


async def cancel_order(request: web.Request) -> web.Response:
    caller = identity.of(request, needs=contracts.ORDERS_WRITE)
    order_id = payloads.parse(OrderPath, request.match_info).id
    order = await flow.cancel(request.app[FLOW], caller, order_id)
    return web.json_response(text=order.model_dump_json())


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/orders", create_order)
    app.router.add_get("/v1/orders", list_orders)
    app.router.add_get("/v1/orders/{id}", get_order)
    app.router.add_post("/v1/orders/{id}/cancel", cancel_order)
