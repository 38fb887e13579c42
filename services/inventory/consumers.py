"""Shipments take stock off the shelves: `shipment.created` on `fulfillment.events`, once each.

The dedupe row (`idempotency.first_time`) and the stock change commit together, so a redelivered
event changes nothing and a failed attempt leaves nothing behind for its retry to trip over.
A body that is not a `ShipmentEvent` can never succeed: `Permanent`, straight to the DLQ.
"""

from __future__ import annotations

from aiohttp import web

from meridian.core.runtime import db
from meridian.core.runtime import logging as meridian_logging
from meridian.services.inventory import routes, store
from meridian.services.inventory.settings import Settings
from meridian.services.kit import contracts
from meridian.services.kit.events import applying, consumer, messaging

log = meridian_logging.get_logger("meridian.services.inventory.consumers")


def shipments_topology(settings: Settings) -> messaging.Topology:
    return contracts.shipments_topology(
        settings.shipments_queue, retry_delay_s=settings.retry_delay_s
    )


def shipment_handler(app: web.Application, settings: Settings) -> consumer.Handler:
    async def apply(
        connection: db.Connection, event: contracts.ShipmentEvent
    ) -> applying.AfterCommit:
        skus = await store.ship(connection, event)
        fresh = await store.snapshots(connection, event.tenant_id, skus)
        log.info("Shipment applied", order_id=str(event.order_id), skus=skus)

        async def refresh_cache() -> None:
            for stock in fresh:
                await app[routes.CACHE].put(event.tenant_id, stock)

        return refresh_cache

    return applying.applied_once(
        app,
        model=contracts.ShipmentEvent,
        consumer_name=settings.shipments_queue,
        role=settings.db_role,
        apply=apply,
    )
