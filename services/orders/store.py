"""Orders' SQL, inside the caller's tenant transaction; every state change writes its events.

`order.created` is written exactly once per order, by whichever change first settles what
happened to it (confirmed, canceled, or "inventory unavailable, still pending"), in that change's
transaction — `announced` records it. So an order that the client is told does not exist (its
SKU is unknown) has never been announced, and every order a client was told about has.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Sequence

import asyncpg

from meridian.core.runtime import db
from meridian.services.kit import contracts
from meridian.services.kit.events import outbox
from meridian.services.orders import models, states

COLUMNS = (
    "id, tenant_id, state, lines, allocations, ship_to, reference, reason, reason_detail,"
    " announced, release_pending, created_at, updated_at"
)


def order_of(row: asyncpg.Record) -> models.Order:
    return models.Order(
        id=row["id"],
        state=row["state"],
        lines=json.loads(row["lines"]),
        allocations=json.loads(row["allocations"]),
        ship_to=_ship_to(row),
        reference=row["reference"],
        reason=row["reason"],
        reason_detail=row["reason_detail"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _ship_to(row: asyncpg.Record) -> contracts.Address | None:
    raw = row["ship_to"]
    return None if raw is None else contracts.Address.model_validate_json(raw)


async def insert_pending(
    connection: db.Connection, tenant_id: uuid.UUID, order_id: uuid.UUID, new: models.NewOrder
) -> asyncpg.Record:
    row = await connection.fetchrow(
        f"INSERT INTO orders (id, tenant_id, state, lines, ship_to, reference)"
        f" VALUES ($1, $2, 'pending', $3::jsonb, $4::jsonb, $5) RETURNING {COLUMNS}",
        order_id,
        tenant_id,
        json.dumps([line.model_dump(mode="json") for line in new.lines]),
        None if new.ship_to is None else new.ship_to.model_dump_json(),
        new.reference,
    )
    assert row is not None
    return row


async def get(
    connection: db.Connection, order_id: uuid.UUID, *, lock: bool = False
) -> asyncpg.Record | None:
    suffix = " FOR UPDATE" if lock else ""
    return await connection.fetchrow(
        f"SELECT {COLUMNS} FROM orders WHERE id = $1{suffix}", order_id
    )


async def page(
    connection: db.Connection,
    *,
    state: contracts.OrderState | None,
    before: datetime.datetime | None,
    limit: int,
) -> list[asyncpg.Record]:
    return await connection.fetch(
        f"SELECT {COLUMNS} FROM orders WHERE ($1::text IS NULL OR state = $1)"
        " AND ($2::timestamptz IS NULL OR created_at < $2)"
        " ORDER BY created_at DESC, id LIMIT $3",
        state,
        before,
        limit,
    )


def _event(row: asyncpg.Record, kind: str) -> outbox.Message:
    message_id = uuid.uuid4()
    event = contracts.OrderEvent(
        type=kind,
        message_id=message_id,
        occurred_at=datetime.datetime.now(datetime.UTC),
        tenant_id=row["tenant_id"],
        order_id=row["id"],
        state=row["state"],
        lines=json.loads(row["lines"]),
        allocations=json.loads(row["allocations"]),
        ship_to=_ship_to(row),
    )
    return outbox.Message(
        contracts.ORDERS_EXCHANGE, event.type, event.model_dump(mode="json"), message_id
    )


def _announcement(row: asyncpg.Record) -> list[outbox.Message]:
    """`order.created`, unless the order was announced already (see the module's doc)."""
    return [] if row["announced"] else [_event(row, "order.created")]


async def transition(
    connection: db.Connection,
    row: asyncpg.Record,
    target: contracts.OrderState,
    *,
    allocations: Sequence[contracts.Allocation] | None = None,
    reason: str | None = None,
    detail: str | None = None,
    release_pending: bool = False,
) -> asyncpg.Record:
    """Move a locked order to `target` (refused with 409 when illegal) and write its events."""
    states.check(row["state"], target)
    updated = await connection.fetchrow(
        f"UPDATE orders SET state = $2, announced = true, updated_at = now(),"
        f" allocations = coalesce($3::jsonb, allocations), reason = coalesce($4, reason),"
        f" reason_detail = coalesce($5, reason_detail), release_pending = $6"
        f" WHERE id = $1 RETURNING {COLUMNS}",
        row["id"],
        target,
        None
        if allocations is None
        else json.dumps([a.model_dump(mode="json") for a in allocations]),
        reason,
        detail,
        release_pending,
    )
    assert updated is not None
    await outbox.write_all(connection, [*_announcement(row), _event(updated, f"order.{target}")])
    return updated


async def still_pending(connection: db.Connection, row: asyncpg.Record) -> asyncpg.Record:
    """Inventory could not be asked: the order stays pending, announced, for the sweeper."""
    updated = await connection.fetchrow(
        f"UPDATE orders SET announced = true, attempts = attempts + 1, updated_at = now()"
        f" WHERE id = $1 RETURNING {COLUMNS}",
        row["id"],
    )
    assert updated is not None
    await outbox.write_all(connection, _announcement(row))
    return updated


async def released(connection: db.Connection, order_id: uuid.UUID) -> None:
    await connection.execute("UPDATE orders SET release_pending = false WHERE id = $1", order_id)


async def forget(connection: db.Connection, order_id: uuid.UUID) -> None:
    """An order refused before it was announced (unknown SKU): as if it had never been written."""
    await connection.execute("DELETE FROM orders WHERE id = $1 AND NOT announced", order_id)
