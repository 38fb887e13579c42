"""Inventory's SQL: stock, reservations and shipments, each inside the caller's tenant transaction.

Every change locks the SKU's stock rows with `SELECT ... FOR UPDATE ORDER BY sku, warehouse`
first. One order for every writer means two transactions never wait on each other in a cycle
(no deadlock), and a reservation sees `reserved` as the previous one committed it (no oversell;
the CHECK `reserved <= on_hand` is the last line of defence). Each change writes one
`stock.changed` event per row it touched into the outbox, in the same transaction.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Iterable, Sequence

import asyncpg

from meridian.core.runtime import db, problems
from meridian.services.inventory import models
from meridian.services.kit import contracts
from meridian.services.kit.events import outbox


class InsufficientStock(problems.Conflict):
    type_ = contracts.INSUFFICIENT_STOCK
    title = "Insufficient stock"


class ReservationReleased(problems.Conflict):
    type_ = contracts.RESERVATION_RELEASED
    title = "Reservation released"


class UnknownSku(problems.ValidationProblem):
    type_ = contracts.UNKNOWN_SKU


LOCK = (
    "SELECT sku, warehouse, on_hand, reserved FROM stock"
    " WHERE tenant_id = $1 AND sku = ANY($2::text[]) ORDER BY sku, warehouse FOR UPDATE"
)
SNAPSHOT = (
    "SELECT sku, warehouse, on_hand, reserved, version FROM stock"
    " WHERE tenant_id = $1 AND sku = ANY($2::text[]) ORDER BY sku, warehouse"
)


def stock_of(sku: str, rows: Sequence[asyncpg.Record]) -> models.Stock:
    warehouses = [
        models.WarehouseStock(
            warehouse=r["warehouse"],
            on_hand=r["on_hand"],
            reserved=r["reserved"],
            available=r["on_hand"] - r["reserved"],
        )
        for r in rows
    ]
    on_hand = sum(w.on_hand for w in warehouses)
    reserved = sum(w.reserved for w in warehouses)
    return models.Stock(
        sku=sku,
        on_hand=on_hand,
        reserved=reserved,
        available=on_hand - reserved,
        warehouses=warehouses,
        version=sum(r["version"] for r in rows),
    )


async def snapshots(
    connection: db.Connection, tenant_id: uuid.UUID, skus: Iterable[str]
) -> list[models.Stock]:
    """Each SKU's stock as this transaction sees it; SKUs without rows are left out."""
    rows = await connection.fetch(SNAPSHOT, tenant_id, sorted(set(skus)))
    by_sku: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        by_sku.setdefault(row["sku"], []).append(row)
    return [stock_of(sku, sku_rows) for sku, sku_rows in by_sku.items()]


async def page(
    connection: db.Connection, tenant_id: uuid.UUID, *, after: str, limit: int
) -> list[models.Stock]:
    skus = await connection.fetch(
        "SELECT DISTINCT sku FROM stock WHERE tenant_id = $1 AND sku > $2 ORDER BY sku LIMIT $3",
        tenant_id,
        after,
        limit,
    )
    return await snapshots(connection, tenant_id, [r["sku"] for r in skus])


async def _changed(
    connection: db.Connection,
    tenant_id: uuid.UUID,
    rows: Iterable[asyncpg.Record],
    reason: str,
) -> None:
    now = datetime.datetime.now(datetime.UTC)
    events = [
        contracts.StockChangedEvent(
            type="stock.changed",
            message_id=uuid.uuid4(),
            occurred_at=now,
            tenant_id=tenant_id,
            sku=row["sku"],
            warehouse=row["warehouse"],
            on_hand=row["on_hand"],
            reserved=row["reserved"],
            available=row["on_hand"] - row["reserved"],
            reason=reason,
        )
        for row in rows
    ]
    await outbox.write_all(
        connection,
        [
            outbox.Message(
                contracts.INVENTORY_EXCHANGE, e.type, e.model_dump(mode="json"), e.message_id
            )
            for e in events
        ],
    )


async def set_stock(
    connection: db.Connection, tenant_id: uuid.UUID, sku: str, update: models.StockUpdate
) -> None:
    # A transaction-scoped lock per (tenant, SKU) orders writers even before the SKU has rows.
    await connection.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", f"{tenant_id}/{sku}"
    )
    locked = await connection.fetch(LOCK, tenant_id, [sku])
    reserved = next((r["reserved"] for r in locked if r["warehouse"] == update.warehouse), 0)
    if update.on_hand < reserved:
        raise problems.Conflict(
            f"on_hand {update.on_hand} is below the {reserved} units reserved in "
            f"{update.warehouse}; ship or release reservations first",
            field="/on_hand",
            reserved=reserved,
        )
    row = await connection.fetchrow(
        "INSERT INTO stock AS s (tenant_id, sku, warehouse, on_hand) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (tenant_id, sku, warehouse) DO UPDATE SET on_hand = EXCLUDED.on_hand,"
        " version = s.version + 1, updated_at = now()"
        " RETURNING sku, warehouse, on_hand, reserved",
        tenant_id,
        sku,
        update.warehouse,
        update.on_hand,
    )
    assert row is not None
    await _changed(connection, tenant_id, [row], "set")


def _merged(lines: Sequence[contracts.Line]) -> dict[str, tuple[int, int]]:
    """SKU -> (quantity over every line naming it, index of its first line)."""
    merged: dict[str, tuple[int, int]] = {}
    for index, line in enumerate(lines):
        quantity, first = merged.get(line.sku, (0, index))
        merged[line.sku] = (quantity + line.quantity, first)
    return merged


async def _existing(
    connection: db.Connection, tenant_id: uuid.UUID, order_id: uuid.UUID
) -> contracts.Reservation:
    row = await connection.fetchrow(
        "SELECT state, allocations FROM reservations WHERE tenant_id = $1 AND order_id = $2",
        tenant_id,
        order_id,
    )
    assert row is not None  # our INSERT conflicted with it, and reservations are never deleted
    if row["state"] == "released":
        raise ReservationReleased(f"The reservation of order {order_id} was released")
    return contracts.Reservation(order_id=order_id, allocations=json.loads(row["allocations"]))


async def reserve(
    connection: db.Connection, tenant_id: uuid.UUID, request: contracts.ReservationRequest
) -> tuple[contracts.Reservation, bool]:
    """All lines or nothing, one warehouse per SKU (most available); (reservation, created)."""
    created = await connection.fetchval(
        "INSERT INTO reservations (tenant_id, order_id, state) VALUES ($1, $2, 'held')"
        " ON CONFLICT DO NOTHING RETURNING true",
        tenant_id,
        request.order_id,
    )
    if not created:  # a repeat (or a concurrent twin that committed first): same answer
        return await _existing(connection, tenant_id, request.order_id), False
    wanted = _merged(request.lines)
    rows = await connection.fetch(LOCK, tenant_id, sorted(wanted))
    by_sku: dict[str, list[asyncpg.Record]] = {}
    for row in rows:
        by_sku.setdefault(row["sku"], []).append(row)
    unknown = [
        problems.FieldError(f"/lines/{index}/sku", f"Unknown SKU {sku!r}")
        for sku, (_, index) in wanted.items()
        if sku not in by_sku
    ]
    if unknown:
        raise UnknownSku(unknown, detail="The tenant has no stock record for some SKUs")
    allocations: list[contracts.Allocation] = []
    for sku, (quantity, _) in wanted.items():
        best = max(by_sku[sku], key=lambda r: (r["on_hand"] - r["reserved"], r["warehouse"]))
        available = best["on_hand"] - best["reserved"]
        if available < quantity:
            raise InsufficientStock(
                f"SKU {sku!r}: {quantity} requested, at most {max(available, 0)} available"
                " in one warehouse",
                sku=sku,
                requested=quantity,
                available=max(available, 0),
            )
        allocations.append(
            contracts.Allocation(sku=sku, warehouse=best["warehouse"], quantity=quantity)
        )
    changed = await _move(connection, tenant_id, allocations, on_hand=0, reserved=1)
    await connection.execute(
        "UPDATE reservations SET allocations = $3::jsonb WHERE tenant_id = $1 AND order_id = $2",
        tenant_id,
        request.order_id,
        json.dumps([a.model_dump(mode="json") for a in allocations]),
    )
    await _changed(connection, tenant_id, changed, "reserved")
    return contracts.Reservation(order_id=request.order_id, allocations=allocations), True


async def _move(
    connection: db.Connection,
    tenant_id: uuid.UUID,
    allocations: Sequence[contracts.Allocation],
    *,
    on_hand: int,
    reserved: int,
) -> list[asyncpg.Record]:
    """Adds `sign * quantity` to on_hand / reserved of each allocation's row (rows locked first)."""
    if not allocations:
        return []
    return await connection.fetch(
        "UPDATE stock s SET on_hand = s.on_hand + $2 * a.quantity,"
        " reserved = s.reserved + $3 * a.quantity, version = s.version + 1, updated_at = now()"
        " FROM unnest($4::text[], $5::text[], $6::int[]) AS a (sku, warehouse, quantity)"
        " WHERE s.tenant_id = $1 AND s.sku = a.sku AND s.warehouse = a.warehouse"
        " RETURNING s.sku, s.warehouse, s.on_hand, s.reserved",
        tenant_id,
        on_hand,
        reserved,
        [a.sku for a in allocations],
        [a.warehouse for a in allocations],
        [a.quantity for a in allocations],
    )


async def _lock_reservation(
    connection: db.Connection, tenant_id: uuid.UUID, order_id: uuid.UUID
) -> asyncpg.Record | None:
    return await connection.fetchrow(
        "SELECT state, allocations FROM reservations WHERE tenant_id = $1 AND order_id = $2"
        " FOR UPDATE",
        tenant_id,
        order_id,
    )


async def release(
    connection: db.Connection, tenant_id: uuid.UUID, order_id: uuid.UUID
) -> tuple[str, list[str]]:
    """Gives a held reservation's stock back; returns the state found ("absent" when none) and
    the SKUs whose stock changed.

    An absent reservation is recorded as released, so a reservation request for the same order
    arriving late (the order was canceled meanwhile) is refused instead of holding stock forever.
    """
    row = await _lock_reservation(connection, tenant_id, order_id)
    if row is None:
        inserted = await connection.fetchval(
            "INSERT INTO reservations (tenant_id, order_id, state) VALUES ($1, $2, 'released')"
            " ON CONFLICT DO NOTHING RETURNING true",
            tenant_id,
            order_id,
        )
        if inserted:
            return "absent", []
        row = await _lock_reservation(connection, tenant_id, order_id)
        assert row is not None
    if row["state"] != "held":
        return str(row["state"]), []
    allocations = [contracts.Allocation.model_validate(a) for a in json.loads(row["allocations"])]
    await connection.execute(LOCK, tenant_id, sorted({a.sku for a in allocations}))
    changed = await _move(connection, tenant_id, allocations, on_hand=0, reserved=-1)
    await connection.execute(
        "UPDATE reservations SET state = 'released', updated_at = now()"
        " WHERE tenant_id = $1 AND order_id = $2",
        tenant_id,
        order_id,
    )
    await _changed(connection, tenant_id, changed, "released")
    return "held", sorted({r["sku"] for r in changed})


async def ship(connection: db.Connection, event: contracts.ShipmentEvent) -> list[str]:
    """Stock leaves the shelves: on_hand (and reserved, when it was held) fall by the shipped
    allocations, once per order. Returns the SKUs whose stock changed."""
    tenant_id = event.tenant_id
    totals: dict[tuple[str, str], int] = {}
    for a in event.allocations:
        totals[a.sku, a.warehouse] = totals.get((a.sku, a.warehouse), 0) + a.quantity
    shipped = [contracts.Allocation(sku=s, warehouse=w, quantity=q) for (s, w), q in totals.items()]
    row = await _lock_reservation(connection, tenant_id, event.order_id)
    if row is not None and row["state"] == "shipped":
        return []
    held = row is not None and row["state"] == "held"
    await connection.execute(LOCK, tenant_id, sorted({a.sku for a in shipped}))
    changed = await _move(connection, tenant_id, shipped, on_hand=-1, reserved=-1 if held else 0)
    if len(changed) != len(shipped):
        raise LookupError(f"Order {event.order_id}: a shipped allocation has no stock row")
    await connection.execute(
        "INSERT INTO reservations AS r (tenant_id, order_id, state, allocations)"
        " VALUES ($1, $2, 'shipped', $3::jsonb) ON CONFLICT (tenant_id, order_id)"
        " DO UPDATE SET state = 'shipped', updated_at = now()",
        tenant_id,
        event.order_id,
        json.dumps([a.model_dump(mode="json") for a in event.allocations]),
    )
    await _changed(connection, tenant_id, changed, "shipped")
    return sorted({r["sku"] for r in changed})
