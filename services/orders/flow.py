"""Creating an order and getting its stock: the steps, their transactions, and their answers.

1. One transaction claims the Idempotency-Key (if any) and inserts the order `pending`; the
   key's stored response is the order's id, so a replay (or a concurrent duplicate, which waits
   on the key's row) answers with that order as it is *now*, re-driving it while still pending.
2. Inventory is asked, outside any transaction (no pool connection waits on the network).
3. A second transaction applies the outcome to the order (locked; skipped if someone else got
   there first): reserved -> confirmed; insufficient stock -> canceled (409 naming the SKU, the
   order in the body); unknown SKU -> the order is deleted, 422 naming the field, nothing kept;
   inventory unavailable or circuit open -> 503, the order stays pending and announced, and the
   sweeper (or a retry with the same Idempotency-Key) asks inventory again later.
A crash between the steps leaves a pending order that the sweeper finishes.
"""

from __future__ import annotations

import contextlib
import uuid

import asyncpg
from aiohttp import web

from meridian.core.runtime import db, problems, resilience
from meridian.core.runtime import logging as meridian_logging
from meridian.services.kit import contracts
from meridian.services.kit.storage import idempotency
from meridian.services.kit.trust import identity
from meridian.services.orders import inventory, models, store

log = meridian_logging.get_logger("meridian.services.orders.flow")

ORDER_REF = "application/vnd.meridian.order-id"
"""Content type of a stored Idempotency-Key response: its body is the order's id."""
RETRY_AFTER_S = 5


class InsufficientStock(problems.Conflict):
    type_ = contracts.INSUFFICIENT_STOCK
    title = "Insufficient stock"


class UnknownSku(problems.ValidationProblem):
    type_ = contracts.UNKNOWN_SKU


class Context:
    """What the flow needs from the app: the pool, the DB role and the inventory client."""

    def __init__(self, pool: db.Pool, role: str, client: inventory.Inventory) -> None:
        self.pool = pool
        self.role = role
        self.inventory = client

    def connection(
        self, tenant_id: uuid.UUID
    ) -> contextlib.AbstractAsyncContextManager[db.Connection]:
        return db.tenant_connection(self.pool, tenant_id, role=self.role)


def answer(order: models.Order) -> web.Response:
    """The HTTP answer for an order, as it is now (fresh request or replay alike)."""
    body = order.model_dump(mode="json")
    location = {"Location": f"/v1/orders/{order.id}"}
    if order.state == "pending":
        raise problems.ServiceUnavailable(
            "Inventory is unavailable; the order is kept pending and will be confirmed or "
            "canceled when it answers (retry with the same Idempotency-Key to ask now)",
            retry_after=RETRY_AFTER_S,
            order_id=str(order.id),
            order=body,
        )
    if order.state == "canceled" and order.reason == "insufficient-stock":
        problem = InsufficientStock(
            order.reason_detail or "Insufficient stock", order_id=str(order.id), order=body
        )
        problem.extra_headers.update(location)
        raise problem
    return web.json_response(body, status=201, headers=location)


async def drive(
    ctx: Context,
    caller: identity.Identity,
    order_id: uuid.UUID,
    *,
    inserted: asyncpg.Record | None = None,
) -> models.Order:
    """Ask inventory for a pending order's stock and settle the order; returns it as it is now.

    `inserted`: the row this request just committed, which spares reading it back.
    """
    row = inserted
    if row is None:
        async with ctx.connection(caller.tenant_id) as connection:
            row = await store.get(connection, order_id)
    if row is None:
        raise problems.NotFound(f"Order {order_id} does not exist")
    if row["state"] != "pending":
        return store.order_of(row)
    refused: UnknownSku | None = None
    outcome = await ctx.inventory.reserve(caller, order_id, store.order_of(row).lines)
    async with ctx.connection(caller.tenant_id) as connection:
        row = await store.get(connection, order_id, lock=True)
        if row is None:
            raise problems.NotFound(f"Order {order_id} does not exist")
        if row["state"] != "pending":  # settled meanwhile by a twin request or the sweeper
            return store.order_of(row)
        match outcome:
            case inventory.Reserved(allocations):
                row = await store.transition(connection, row, "confirmed", allocations=allocations)
            case inventory.Insufficient(_sku, detail):
                row = await store.transition(
                    connection, row, "canceled", reason="insufficient-stock", detail=detail
                )
            case inventory.Released(detail):
                row = await store.transition(
                    connection, row, "canceled", reason="reservation-released", detail=detail
                )
            case inventory.UnknownSkus(errors) if not row["announced"]:
                await store.forget(connection, order_id)
                await connection.execute(
                    "DELETE FROM idempotency_keys WHERE body = $1", str(order_id).encode()
                )
                refused = UnknownSku(errors, detail="The order names SKUs with no stock record")
            case inventory.UnknownSkus(errors):
                detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
                row = await store.transition(
                    connection, row, "canceled", reason="unknown-sku", detail=detail
                )
            case inventory.Unavailable(reason):
                log.warning("Order left pending", order_id=str(order_id), reason=reason)
                row = await store.still_pending(connection, row)
    if refused is not None:  # raised after the commit that forgot the order
        raise refused
    return store.order_of(row)


async def create(
    ctx: Context,
    caller: identity.Identity,
    new: models.NewOrder,
    *,
    key: str | None,
    fingerprint: str,
) -> web.Response:
    order_id = uuid.uuid4()
    inserted = None
    async with ctx.connection(caller.tenant_id) as connection:
        replay = None
        if key is not None:
            # The key's answer is the order's id, known before the order is written: stored
            # with the claim, committed with the order.
            replay = await idempotency.claim(
                connection,
                tenant_id=caller.tenant_id,
                key=key,
                fingerprint=fingerprint,
                response=idempotency.StoredResponse(201, ORDER_REF, str(order_id).encode()),
            )
        if replay is None:
            inserted = await store.insert_pending(connection, caller.tenant_id, order_id, new)
    if replay is not None:
        if replay.content_type != ORDER_REF:
            return web.Response(
                status=replay.status, body=replay.body, content_type=replay.content_type
            )
        order_id = uuid.UUID(replay.body.decode())
    try:
        order = await drive(ctx, caller, order_id, inserted=inserted)
    except problems.NotFound:
        # The key's order was refused meanwhile (unknown SKU) and deleted with its key.
        raise problems.Conflict("The request with this Idempotency-Key failed; retry it") from None
    return answer(order)


async def cancel(ctx: Context, caller: identity.Identity, order_id: uuid.UUID) -> models.Order:
    """Cancel (409 unless pending or confirmed), then give the reservation back to inventory;
    if inventory cannot be reached now, the sweeper releases it later (`release_pending`)."""
    async with ctx.connection(caller.tenant_id) as connection:
        row = await store.get(connection, order_id, lock=True)
        if row is None:
            raise problems.NotFound(f"Order {order_id} does not exist")
        row = await store.transition(
            connection, row, "canceled", reason="canceled-by-customer", release_pending=True
        )
    order = store.order_of(row)
    return await release(ctx, caller, order)


async def release(ctx: Context, caller: identity.Identity, order: models.Order) -> models.Order:
    try:
        await ctx.inventory.release(caller, order.id)
    except (inventory.Failed, resilience.CircuitOpen) as error:
        log.warning("Reservation release deferred", order_id=str(order.id), reason=str(error))
        return order
    async with ctx.connection(caller.tenant_id) as connection:
        await store.released(connection, order.id)
    return order
