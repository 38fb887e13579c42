"""Inventory's HTTP handlers: thin — identity, validation, one tenant transaction, the cache."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

import pydantic
from aiohttp import web

from meridian.core.runtime import db, payloads, problems
from meridian.services.inventory import models, products, stockcache, store
from meridian.services.inventory.settings import SETTINGS
from meridian.services.kit import contracts
from meridian.services.kit.trust import identity

CACHE = web.AppKey("stock_cache", stockcache.StockCache)


class OrderPath(pydantic.BaseModel):
    order_id: uuid.UUID


class ListQuery(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")

    after: str = pydantic.Field(  # a SKU (the last of the previous page), or "" for the first
        default="", max_length=64, pattern=f"{contracts.CODE_PATTERN}|^$"
    )
    limit: int = pydantic.Field(default=100, ge=1, le=500)


def _role(request: web.Request) -> str:
    return request.app[SETTINGS].db_role


async def _cache(request: web.Request, tenant_id: uuid.UUID, fresh: Iterable[models.Stock]) -> None:
    """After commit: the cache gets the snapshots the change committed (see `stockcache`)."""
    for stock in fresh:
        await request.app[CACHE].put(tenant_id, stock)


def _json(model: pydantic.BaseModel, status: int = 200) -> web.Response:
    return web.json_response(text=model.model_dump_json(), status=status)


async def put_stock(request: web.Request) -> web.Response:
    caller = identity.of(request, needs=contracts.INVENTORY_WRITE)
    sku = payloads.parse(models.SkuPath, request.match_info).sku
    update = await payloads.read_json(request, models.StockUpdate)
    pool = request.app[db.POOL]
    async with db.tenant_connection(pool, caller.tenant_id, role=_role(request)) as connection:
        await store.set_stock(connection, caller.tenant_id, sku, update)
        (stock,) = await store.snapshots(connection, caller.tenant_id, [sku])
    await _cache(request, caller.tenant_id, [stock])
    return _json(stock)


async def get_stock(request: web.Request) -> web.Response:
    caller = identity.of(request, needs=contracts.INVENTORY_READ)
    sku = payloads.parse(models.SkuPath, request.match_info).sku
    cached = await request.app[CACHE].get(caller.tenant_id, sku)
    if cached is not None:
        return _json(cached)
    pool = request.app[db.POOL]
    async with db.tenant_connection(pool, caller.tenant_id, role=_role(request)) as connection:
        found = await store.snapshots(connection, caller.tenant_id, [sku])
    if not found:
        raise problems.NotFound(f"No stock recorded for SKU {sku!r}")
    await request.app[CACHE].put(caller.tenant_id, found[0])
    return _json(found[0])


async def list_stock(request: web.Request) -> web.Response:
    caller = identity.of(request, needs=contracts.INVENTORY_READ)
    query = payloads.parse(ListQuery, request.query)
    pool = request.app[db.POOL]
    async with db.tenant_connection(pool, caller.tenant_id, role=_role(request)) as connection:
        items = await store.page(connection, caller.tenant_id, after=query.after, limit=query.limit)
    last = items[-1].sku if len(items) == query.limit else None
    return _json(models.StockList(items=items, next_after=last))


async def create_reservation(request: web.Request) -> web.Response:
    caller = identity.of(request, needs=contracts.ORDERS_WRITE)
    body = await payloads.read_json(request, contracts.ReservationRequest)
    pool = request.app[db.POOL]
    async with db.tenant_connection(pool, caller.tenant_id, role=_role(request)) as connection:
        reservation, created = await store.reserve(connection, caller.tenant_id, body)
        skus = [a.sku for a in reservation.allocations] if created else []
        fresh = await store.snapshots(connection, caller.tenant_id, skus)
    await _cache(request, caller.tenant_id, fresh)
    return _json(reservation, status=201 if created else 200)


async def delete_reservation(request: web.Request) -> web.Response:
    caller = identity.of(request, needs=contracts.ORDERS_WRITE)
    order_id = payloads.parse(OrderPath, request.match_info).order_id
    pool = request.app[db.POOL]
    async with db.tenant_connection(pool, caller.tenant_id, role=_role(request)) as connection:
        found, skus = await store.release(connection, caller.tenant_id, order_id)
        fresh = await store.snapshots(connection, caller.tenant_id, skus)
    if found == "shipped":
        raise problems.Conflict(f"Order {order_id} has shipped; its stock cannot be released")
    await _cache(request, caller.tenant_id, fresh)
    return web.Response(status=204)


async def upsert_products(request: web.Request) -> web.Response:
    """One product (201 created, 200 changed or equal), or `{"products": [...]}` (200)."""
    caller = identity.of(request, needs=contracts.INVENTORY_WRITE)
    document = (await payloads.read_json(request, models.JsonObject)).root
    bulk = "products" in document
    try:
        body = (models.ProductBulk if bulk else contracts.ProductData).model_validate(document)
    except pydantic.ValidationError as error:
        raise problems.from_validation_error(error) from error
    batch = body.products if isinstance(body, models.ProductBulk) else [body]
    _refuse_repeated_skus(batch)
    pool = request.app[db.POOL]
    async with db.tenant_connection(pool, caller.tenant_id, role=_role(request)) as connection:
        stored, created, changed = await products.upsert(connection, caller.tenant_id, batch)
    if bulk:
        return _json(models.ProductBulkResult(items=stored, changed=len(changed)))
    return _json(stored[0], status=201 if created else 200)


def _refuse_repeated_skus(batch: Iterable[contracts.ProductData]) -> None:
    seen: set[str] = set()
    repeated = []
    for index, product in enumerate(batch):
        if product.sku in seen:
            repeated.append(problems.FieldError(f"/products/{index}/sku", "SKU given twice"))
        seen.add(product.sku)
    if repeated:
        raise problems.ValidationProblem(repeated, detail="Each SKU may appear once per request")


async def get_product(request: web.Request) -> web.Response:
    caller = identity.of(request, needs=contracts.INVENTORY_READ)
    sku = payloads.parse(models.SkuPath, request.match_info).sku
    pool = request.app[db.POOL]
    async with db.tenant_connection(pool, caller.tenant_id, role=_role(request)) as connection:
        found = await products.get_many(connection, caller.tenant_id, [sku])
    if not found:
        raise problems.NotFound(f"No product with SKU {sku!r}")
    return _json(found[0])


async def list_products(request: web.Request) -> web.Response:
    caller = identity.of(request, needs=contracts.INVENTORY_READ)
    query = payloads.parse(ListQuery, request.query)
    pool = request.app[db.POOL]
    async with db.tenant_connection(pool, caller.tenant_id, role=_role(request)) as connection:
        items = await products.page(
            connection, caller.tenant_id, after=query.after, limit=query.limit
        )
    last = items[-1].sku if len(items) == query.limit else None
    return _json(models.ProductList(items=items, next_after=last))


async def delete_product(request: web.Request) -> web.Response:
    caller = identity.of(request, needs=contracts.INVENTORY_WRITE)
    sku = payloads.parse(models.SkuPath, request.match_info).sku
    pool = request.app[db.POOL]
    async with db.tenant_connection(pool, caller.tenant_id, role=_role(request)) as connection:
        deleted = await products.delete(connection, caller.tenant_id, sku)
    if not deleted:
        raise problems.NotFound(f"No product with SKU {sku!r}")
    return web.Response(status=204)


def add_routes(app: web.Application) -> None:
    app.router.add_put("/v1/inventory/stock/{sku}", put_stock)
    app.router.add_get("/v1/inventory/stock/{sku}", get_stock)
    app.router.add_get("/v1/inventory/stock", list_stock)
    app.router.add_post("/v1/inventory/reservations", create_reservation)
    app.router.add_delete("/v1/inventory/reservations/{order_id}", delete_reservation)
    app.router.add_post("/v1/inventory/products", upsert_products)
    app.router.add_get("/v1/inventory/products", list_products)
    app.router.add_get("/v1/inventory/products/{sku}", get_product)
    app.router.add_delete("/v1/inventory/products/{sku}", delete_product)
