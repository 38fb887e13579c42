"""Product events from `inventory.events` into the tenant's index (`indexer`), one delivery each.

No dedupe table: Elasticsearch's external version is the idempotency key (a redelivery carries the
same version and is a no-op conflict). A body that is neither product event can never succeed:
`Permanent`, straight to the DLQ.
"""

from __future__ import annotations

import pydantic
from aiohttp import web

from meridian.services.kit import contracts
from meridian.services.kit.events import consumer, messaging
from meridian.services.search import documents, indexer
from meridian.services.search.settings import Settings

ROUTING_KEYS = ("product.upserted", "product.deleted")

ProductEvent = pydantic.TypeAdapter(contracts.ProductUpsertedEvent | contracts.ProductDeletedEvent)


def products_topology(settings: Settings) -> messaging.Topology:
    return messaging.Topology(
        exchange=contracts.INVENTORY_EXCHANGE,
        queue=settings.products_queue,
        routing_keys=ROUTING_KEYS,
        retry_delay_s=settings.retry_delay_s,
    )


def action_of(body: bytes) -> indexer.Action:
    try:
        event = ProductEvent.validate_json(body)
    except pydantic.ValidationError as error:
        raise consumer.Permanent(f"Not a product event: {error}") from error
    if isinstance(event, contracts.ProductUpsertedEvent):
        sku, document = event.product.sku, documents.upserted(event)
    else:
        sku, document = event.sku, documents.deleted(event)
    return indexer.Action(event.tenant_id, sku, event.version, document, event.occurred_at)


def product_handler(app: web.Application) -> consumer.Handler:
    async def handle(delivery: consumer.Delivery) -> None:
        await app[indexer.INDEXER].submit(action_of(delivery.body))

    return handle
