"""Shipments take stock off the shelves: `shipment.created` on `fulfillment.events`, once each.

The dedupe row (`idempotency.first_time`) and the stock change commit together, so a redelivered
event changes nothing and a failed attempt leaves nothing behind for its retry to trip over.
A body that is not a `ShipmentEvent` can never succeed: `Permanent`, straight to the DLQ.
"""

from __future__ import annotations

import pydantic
from aiohttp import web

from meridian.core import logging as meridian_logging
from meridian.services.inventory import handlers, store
from meridian.services.inventory.settings import Settings
from meridian.services.kit import consumer, contracts, db, idempotency, messaging

log = meridian_logging.get_logger("meridian.services.inventory.consumers")


def shipments_topology(settings: Settings) -> messaging.Topology:
    return messaging.Topology(
        exchange=contracts.FULFILLMENT_EXCHANGE,
        queue=settings.shipments_queue,
        routing_keys=("shipment.created",),
        retry_delay_ms=settings.retry_delay_ms,
    )


def shipment_handler(app: web.Application, settings: Settings) -> consumer.Handler:
    async def handle(delivery: consumer.Delivery) -> None:
        try:
            event = contracts.ShipmentEvent.model_validate_json(delivery.body)
        except pydantic.ValidationError as error:
            raise consumer.Permanent(f"Not a ShipmentEvent: {error}") from error
        message_id = delivery.message_id or str(event.message_id)
        async with db.tenant_connection(
            app[db.POOL], event.tenant_id, role=settings.db_role
        ) as connection:
            if not await idempotency.first_time(connection, settings.shipments_queue, message_id):
                log.info("Shipment already applied", message_id=message_id)
                return
            skus = await store.ship(connection, event)
            fresh = await store.snapshots(connection, event.tenant_id, skus)
        for stock in fresh:
            await app[handlers.CACHE].put(event.tenant_id, stock)
        log.info("Shipment applied", order_id=str(event.order_id), skus=skus)

    return handle
