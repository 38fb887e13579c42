"""From `order.confirmed` to shipments: the consumer's handler, exactly once in its effects.

Per message: parse (an invalid event is `Permanent`: DLQ at once), skip it when it was already
processed, then for each warehouse the order's stock was allocated from (one shipment each) buy a
carrier shipment with an idempotency key derived from tenant, order and warehouse, download its
label and store it in S3. Only then, in ONE transaction: the consumer's dedupe row
(`idempotency.first_time`), the shipment rows and their `shipment.created` events in the outbox.
A crash or failure anywhere before that commit leaves nothing behind but S3 objects and carrier
shipments that the retry finds again under the same key; a redelivery after it changes nothing.
The HTTP calls happen outside any transaction, so no connection is held while the carrier thinks.
"""

from __future__ import annotations

import collections
import datetime
import uuid
from typing import NamedTuple

import pydantic

from meridian.core.runtime import db
from meridian.core.runtime import logging as meridian_logging
from meridian.services.fulfillment import carrier, labels, models, store
from meridian.services.fulfillment.settings import Settings
from meridian.services.kit import contracts
from meridian.services.kit.events import consumer, outbox
from meridian.services.kit.storage import idempotency

SHIPMENT_CREATED = "shipment.created"
_SHIPMENT_IDS = uuid.UUID("6f1d2c8e-4b7a-5e39-9a0c-3d2f8e71b6a4")
"""uuid5 namespace of shipment ids: the same (tenant, order, warehouse) is the same shipment."""

log = meridian_logging.get_logger("meridian.services.fulfillment.shipping")


class Parcel(NamedTuple):
    """What leaves one warehouse for one order."""

    warehouse: str
    allocations: tuple[contracts.Allocation, ...]

    @property
    def units(self) -> int:
        return sum(allocation.quantity for allocation in self.allocations)


def plan(event: contracts.OrderEvent) -> list[Parcel]:
    """One parcel per warehouse, in a stable order (so retries call the carrier alike)."""
    by_warehouse: dict[str, list[contracts.Allocation]] = collections.defaultdict(list)
    for allocation in event.allocations:
        by_warehouse[allocation.warehouse].append(allocation)
    return [Parcel(w, tuple(by_warehouse[w])) for w in sorted(by_warehouse)]


def shipment_id(tenant_id: uuid.UUID, order_id: uuid.UUID, warehouse: str) -> uuid.UUID:
    return uuid.uuid5(_SHIPMENT_IDS, f"{tenant_id}/{order_id}/{warehouse}")


def idempotency_key(shipment: uuid.UUID) -> str:
    """The carrier's Idempotency-Key: a retry of the same parcel buys no second shipment."""
    return f"meridian-fulfillment-{shipment}"


def parse(body: bytes) -> contracts.OrderEvent:
    try:
        return contracts.OrderEvent.model_validate_json(body)
    except pydantic.ValidationError as error:
        raise consumer.Permanent(f"Invalid order event: {error}") from error


class Fulfiller:
    """The `orders.events` handler; `handle` is what `consumer.consumer_context` calls."""

    def __init__(
        self,
        *,
        pool: db.Pool,
        carrier_client: carrier.Client,
        label_store: labels.LabelStore,
        settings: Settings,
    ) -> None:
        self.pool = pool
        self.carrier = carrier_client
        self.labels = label_store
        self.settings = settings
        self.consumer_name = settings.orders_queue

    def origin(self, warehouse: str) -> contracts.Address:
        configured = self.settings.warehouse_origins.get(warehouse)
        if configured is not None:
            return configured
        name = f"{self.settings.origin.name} {warehouse}"[:100]
        return self.settings.origin.model_copy(update={"name": name})

    async def handle(self, delivery: consumer.Delivery) -> None:
        event = parse(delivery.body)
        if event.type != "order.confirmed":
            return  # bound to order.confirmed only; anything else is not ours to act on
        if not event.allocations:
            raise consumer.Permanent(f"Order {event.order_id} was confirmed without allocations")
        message_id = str(event.message_id)
        async with db.tenant_connection(
            self.pool, event.tenant_id, role=self.settings.db_role
        ) as conn:
            if await store.processed(conn, self.consumer_name, message_id):
                log.info("Order event already handled", order_id=str(event.order_id))
                return
            shipped = await store.shipped_warehouses(conn, event.order_id)
        bought = [
            await self.ship(event, parcel)
            for parcel in plan(event)
            if parcel.warehouse not in shipped
        ]
        async with db.tenant_connection(
            self.pool, event.tenant_id, role=self.settings.db_role
        ) as conn:
            if not await idempotency.first_time(conn, self.consumer_name, message_id):
                return  # a concurrent redelivery committed first
            for shipment in bought:
                if await store.insert(conn, event.tenant_id, shipment):
                    await self._announce(conn, event.tenant_id, shipment)
        log.info(
            "Order shipped",
            tenant_id=str(event.tenant_id),
            order_id=str(event.order_id),
            shipments=[str(s.id) for s in bought],
        )

    async def ship(self, event: contracts.OrderEvent, parcel: Parcel) -> models.Shipment:
        """Buy the parcel's shipment and store its label; idempotent per (tenant, order, warehouse)."""
        sid = shipment_id(event.tenant_id, event.order_id, parcel.warehouse)
        request = carrier.ShipmentRequest(
            from_address=self.origin(parcel.warehouse),
            to_address=event.ship_to or self.settings.default_ship_to,
            parcel=carrier.Parcel(weight_oz=parcel.units * self.settings.parcel_weight_oz_per_unit),
            service=self.settings.carrier_service,
        )
        bought = await self.carrier.create_shipment(request, idempotency_key=idempotency_key(sid))
        label = await self.carrier.label(bought.label.url)
        key = labels.key(event.tenant_id, event.order_id, sid)
        await self.labels.put(
            key,
            label,
            metadata={
                "tenant-id": str(event.tenant_id),
                "order-id": str(event.order_id),
                "tracking-number": bought.tracking_number,
            },
        )
        return models.Shipment(
            id=sid,
            order_id=event.order_id,
            warehouse=parcel.warehouse,
            carrier=bought.carrier,
            carrier_shipment_id=bought.id,
            tracking_number=bought.tracking_number,
            service=bought.service,
            rate_amount=bought.rate.amount,
            rate_currency=bought.rate.currency,
            label_key=key,
            allocations=list(parcel.allocations),
            created_at=datetime.datetime.now(datetime.UTC),
        )

    async def _announce(
        self, connection: db.Connection, tenant_id: uuid.UUID, shipment: models.Shipment
    ) -> None:
        message_id = uuid.uuid4()
        event = contracts.ShipmentEvent(
            type=SHIPMENT_CREATED,
            message_id=message_id,
            occurred_at=shipment.created_at,
            tenant_id=tenant_id,
            order_id=shipment.order_id,
            shipment_id=shipment.id,
            carrier=shipment.carrier,
            tracking_number=shipment.tracking_number,
            label_key=shipment.label_key,
            allocations=shipment.allocations,
        )
        await outbox.write(
            connection,
            exchange=self.settings.events_exchange,
            routing_key=SHIPMENT_CREATED,
            payload=event.model_dump(mode="json"),
            message_id=message_id,
        )
