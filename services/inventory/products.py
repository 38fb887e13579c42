"""The product catalogue's SQL, inside the caller's tenant transaction, and its events.

Every change bumps the SKU's `version` and writes `product.upserted` or `product.deleted` with
that version into the outbox in the same transaction, so search sees every change, in any order,
and keeps the newest. An upsert equal to what is stored changes nothing: no new version, no
event (a catalogue feed replayed in full costs the index nothing). Deletion keeps a tombstone row
(see migration 0004) so versions never restart. Writers lock a batch's existing rows in SKU order
first, so two overlapping bulk upserts never deadlock.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from meridian.core.runtime import db
from meridian.services.inventory import models
from meridian.services.kit import contracts
from meridian.services.kit.events import outbox

COLUMNS = (
    "sku, name, description, brand, category, price_amount, price_currency, attributes,"
    " image_keys, active, version, updated_at"
)
STORED = (
    "name, description, brand, category, price_amount, price_currency, attributes, image_keys,"
    " active"
)

UPSERT = f"""
INSERT INTO products AS p (tenant_id, {STORED}, sku)
SELECT $1, i.name, i.description, i.brand, i.category, (i.price ->> 'amount')::numeric,
       i.price ->> 'currency', i.attributes, i.image_keys, i.active, i.sku
FROM jsonb_to_recordset($2::jsonb) AS i (
    sku text, name text, description text, brand text, category text, price jsonb,
    attributes jsonb, image_keys text[], active boolean
)
ORDER BY i.sku
ON CONFLICT (tenant_id, sku) DO UPDATE SET
    ({STORED}) = (
        EXCLUDED.name, EXCLUDED.description, EXCLUDED.brand, EXCLUDED.category,
        EXCLUDED.price_amount, EXCLUDED.price_currency, EXCLUDED.attributes, EXCLUDED.image_keys,
        EXCLUDED.active
    ),
    version = p.version + 1, deleted_at = NULL, updated_at = now()
WHERE p.deleted_at IS NOT NULL OR ({", ".join(f"p.{c.strip()}" for c in STORED.split(","))})
    IS DISTINCT FROM (
        EXCLUDED.name, EXCLUDED.description, EXCLUDED.brand, EXCLUDED.category,
        EXCLUDED.price_amount, EXCLUDED.price_currency, EXCLUDED.attributes, EXCLUDED.image_keys,
        EXCLUDED.active
    )
RETURNING {COLUMNS}
"""


def product_of(row: asyncpg.Record) -> models.Product:
    return models.Product(
        sku=row["sku"],
        name=row["name"],
        description=row["description"],
        brand=row["brand"],
        category=row["category"],
        price=contracts.ProductPrice(amount=row["price_amount"], currency=row["price_currency"]),
        attributes=json.loads(row["attributes"]),
        image_keys=list(row["image_keys"]),
        active=row["active"],
        version=row["version"],
        updated_at=row["updated_at"],
    )


def _body(product: models.Product) -> contracts.ProductData:
    return contracts.ProductData.model_validate(
        product.model_dump(exclude={"version", "updated_at"})
    )


async def _publish(connection: db.Connection, events: Sequence[contracts.Contract]) -> None:
    messages = []
    for event in events:
        payload: dict[str, Any] = event.model_dump(mode="json")
        messages.append(
            outbox.Message(
                contracts.INVENTORY_EXCHANGE, payload["type"], payload, payload["message_id"]
            )
        )
    await outbox.write_all(connection, messages)


async def upsert(
    connection: db.Connection, tenant_id: uuid.UUID, products: Sequence[contracts.ProductData]
) -> tuple[list[models.Product], set[str], set[str]]:
    """Create or change products (SKUs distinct); returns every product as stored after the
    call, in SKU order, with the SKUs created and the SKUs changed (a created one is both)."""
    skus = sorted(p.sku for p in products)
    live = {
        row["sku"]
        for row in await connection.fetch(
            "SELECT sku, deleted_at IS NULL AS live FROM products"
            " WHERE tenant_id = $1 AND sku = ANY($2::text[]) ORDER BY sku FOR UPDATE",
            tenant_id,
            skus,
        )
        if row["live"]
    }
    incoming = json.dumps([p.model_dump(mode="json") for p in products])
    changed_rows = await connection.fetch(UPSERT, tenant_id, incoming)
    now = datetime.datetime.now(datetime.UTC)
    changed = [product_of(row) for row in changed_rows]
    await _publish(
        connection,
        [
            contracts.ProductUpsertedEvent(
                type="product.upserted",
                message_id=uuid.uuid4(),
                occurred_at=now,
                tenant_id=tenant_id,
                version=product.version,
                product=_body(product),
            )
            for product in changed
        ],
    )
    changed_skus = {p.sku for p in changed}
    # The UPSERT returned every row it wrote; only rows it left alone (equal to what was sent)
    # need reading again (a round trip the usual single-product change saves).
    written = changed if len(changed) == len(skus) else await get_many(connection, tenant_id, skus)
    stored = sorted(written, key=lambda product: product.sku)  # one order whichever way
    return stored, {sku for sku in changed_skus if sku not in live}, changed_skus


async def get_many(
    connection: db.Connection, tenant_id: uuid.UUID, skus: Sequence[str]
) -> list[models.Product]:
    rows = await connection.fetch(
        f"SELECT {COLUMNS} FROM products WHERE tenant_id = $1 AND sku = ANY($2::text[])"
        " AND deleted_at IS NULL ORDER BY sku",
        tenant_id,
        list(skus),
    )
    return [product_of(row) for row in rows]


async def page(
    connection: db.Connection, tenant_id: uuid.UUID, *, after: str, limit: int
) -> list[models.Product]:
    rows = await connection.fetch(
        f"SELECT {COLUMNS} FROM products WHERE tenant_id = $1 AND sku > $2"
        " AND deleted_at IS NULL ORDER BY sku LIMIT $3",
        tenant_id,
        after,
        limit,
    )
    return [product_of(row) for row in rows]


async def delete(connection: db.Connection, tenant_id: uuid.UUID, sku: str) -> bool:
    """Tombstone the product and announce it; False when the tenant has no such live product."""
    version = await connection.fetchval(
        "UPDATE products SET deleted_at = now(), version = version + 1, updated_at = now()"
        " WHERE tenant_id = $1 AND sku = $2 AND deleted_at IS NULL RETURNING version",
        tenant_id,
        sku,
    )
    if version is None:
        return False
    event = contracts.ProductDeletedEvent(
        type="product.deleted",
        message_id=uuid.uuid4(),
        occurred_at=datetime.datetime.now(datetime.UTC),
        tenant_id=tenant_id,
        version=version,
        sku=sku,
    )
    await _publish(connection, [event])
    return True
