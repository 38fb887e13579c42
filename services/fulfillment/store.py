"""Fulfillment's SQL. Every function runs on a `db.tenant_connection` (RLS scopes the rows)."""

from __future__ import annotations

import json
import uuid

import asyncpg

from meridian.core.runtime import db
from meridian.services.fulfillment import models

_COLUMNS = (
    "id, order_id, warehouse, carrier, carrier_shipment_id, tracking_number, service,"
    " rate_amount, rate_currency, label_key, allocations, created_at"
)


def _shipment(row: asyncpg.Record) -> models.Shipment:
    return models.Shipment.model_validate(
        {
            **row,
            "rate_amount": str(row["rate_amount"]),
            "allocations": json.loads(row["allocations"]),
        }
    )


async def processed(connection: db.Connection, consumer: str, message_id: str) -> bool:
    """Whether `consumer` already committed its work for `message_id` (a cheap early check)."""
    found = await connection.fetchval(
        "SELECT true FROM processed_messages WHERE consumer = $1 AND message_id = $2",
        consumer,
        message_id,
    )
    return bool(found)


async def shipped_warehouses(connection: db.Connection, order_id: uuid.UUID) -> set[str]:
    rows = await connection.fetch("SELECT warehouse FROM shipments WHERE order_id = $1", order_id)
    return {row["warehouse"] for row in rows}


async def insert(
    connection: db.Connection, tenant_id: uuid.UUID, shipment: models.Shipment
) -> bool:
    """False when the order already has a shipment from that warehouse (nothing written)."""
    inserted = await connection.fetchval(
        f"INSERT INTO shipments (tenant_id, {_COLUMNS})"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::numeric, $10, $11, $12::jsonb, $13)"
        " ON CONFLICT (tenant_id, order_id, warehouse) DO NOTHING RETURNING true",
        tenant_id,
        shipment.id,
        shipment.order_id,
        shipment.warehouse,
        shipment.carrier,
        shipment.carrier_shipment_id,
        shipment.tracking_number,
        shipment.service,
        shipment.rate_amount,
        shipment.rate_currency,
        shipment.label_key,
        json.dumps([a.model_dump(mode="json") for a in shipment.allocations]),
        shipment.created_at,
    )
    return bool(inserted)


async def get(connection: db.Connection, shipment_id: uuid.UUID) -> models.Shipment | None:
    row = await connection.fetchrow(f"SELECT {_COLUMNS} FROM shipments WHERE id = $1", shipment_id)
    return None if row is None else _shipment(row)


async def find(
    connection: db.Connection, *, order_id: uuid.UUID | None, limit: int
) -> list[models.Shipment]:
    """Newest first; of one order when `order_id` is given."""
    rows = await connection.fetch(
        f"SELECT {_COLUMNS} FROM shipments WHERE ($1::uuid IS NULL OR order_id = $1)"
        " ORDER BY created_at DESC, id LIMIT $2",
        order_id,
        limit,
    )
    return [_shipment(row) for row in rows]
