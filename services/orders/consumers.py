"""Shipments fulfil orders: `shipment.created` on `fulfillment.events`, applied once each.

The dedupe row (`idempotency.first_time`), the state change and its `order.fulfilled` event
commit together. A body that is not a `ShipmentEvent` goes to the DLQ at once (`Permanent`); an
order we do not (yet) have, or one still pending, is retried and, if it never appears, parked in
the DLQ after the retries. A shipment of a canceled order is logged and dropped: the goods left
the warehouse, which is inventory's business, not a state this order can take.
"""

from __future__ import annotations

from aiohttp import web

from meridian.core.runtime import db
from meridian.core.runtime import logging as meridian_logging
from meridian.services.kit import contracts
from meridian.services.kit.events import applying, consumer, messaging
from meridian.services.orders import store
from meridian.services.orders.settings import Settings

log = meridian_logging.get_logger("meridian.services.orders.consumers")


def shipments_topology(settings: Settings) -> messaging.Topology:
    return contracts.shipments_topology(
        settings.shipments_queue, retry_delay_s=settings.retry_delay_s
    )


def shipment_handler(app: web.Application, settings: Settings) -> consumer.Handler:
    async def apply(connection: db.Connection, event: contracts.ShipmentEvent) -> None:
        row = await store.get(connection, event.order_id, lock=True)
        if row is None:
            raise LookupError(f"Order {event.order_id} of tenant {event.tenant_id} not found")
        if row["state"] == "fulfilled":
            return  # another shipment event of the same order
        if row["state"] == "canceled":
            log.warning("Shipment of a canceled order ignored", order_id=str(event.order_id))
            return
        if row["state"] == "pending":
            raise RuntimeError(f"Order {event.order_id} shipped before it was confirmed")
        await store.transition(connection, row, "fulfilled")
        log.info("Order fulfilled", order_id=str(event.order_id))

    return applying.applied_once(
        app,
        model=contracts.ShipmentEvent,
        consumer_name=settings.shipments_queue,
        role=settings.db_role,
        apply=apply,
    )
