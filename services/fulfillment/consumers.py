"""Confirmed orders become shipments: `order.confirmed` on `orders.events`, queue `orders_queue`.

The work itself (plan parcels, buy labels, record shipments, publish `shipment.created`) is the
`Fulfiller` in `shipping`, which `consumer.consumer_context` calls through `order_handler`.
"""

from __future__ import annotations

from aiohttp import web

from meridian.services.fulfillment import shipping
from meridian.services.fulfillment.settings import Settings
from meridian.services.kit.events import consumer, messaging

FULFILLER = web.AppKey("fulfiller", shipping.Fulfiller)


def orders_topology(settings: Settings) -> messaging.Topology:
    return messaging.Topology(
        exchange=settings.orders_exchange,
        queue=settings.orders_queue,
        routing_keys=("order.confirmed",),
        retry_delay_s=settings.retry_delay_s,
    )


def order_handler(app: web.Application) -> consumer.Handler:
    async def handle(delivery: consumer.Delivery) -> None:
        await app[FULFILLER].handle(delivery)

    return handle
