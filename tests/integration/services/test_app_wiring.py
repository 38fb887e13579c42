"""A service assembled from the kit as a real one is: pool, Redis, AMQP, consumer, outbox relay."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pydantic
import pytest_asyncio
from aio_pika import abc as pika_abc
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import cache, db, payloads
from meridian.localplatform import platform
from meridian.services.kit.events import consumer, messaging, outbox
from meridian.services.kit.settings import ConsumerSettings, ServiceSettings
from meridian.services.kit.storage import schema as kit_schema
from tests.integration.services.conftest import delete_queues


class NewOrder(pydantic.BaseModel):
    tenant_id: uuid.UUID
    sku: str


class Settings(ServiceSettings, ConsumerSettings):
    name: str = "orders"


@pytest_asyncio.fixture
async def topology(
    amqp: pika_abc.AbstractRobustConnection, suffix: str
) -> AsyncIterator[messaging.Topology]:
    topology = messaging.Topology(
        exchange=f"test-{suffix}.orders.events",
        queue=f"test{suffix}.notify",
        routing_keys=("order.created",),
    )
    yield topology
    await delete_queues(
        amqp, topology.queue, topology.retry_queue, topology.dlq, exchange=topology.exchange
    )


async def test_order_event_travels_from_handler_through_outbox_to_consumer(
    local_platform: platform.PlatformState,
    orders_dsn: str,
    schema: str,
    topology: messaging.Topology,
) -> None:
    admin = await asyncpg.connect(orders_dsn)
    try:
        await admin.execute(
            f"SET search_path = {schema}; {';'.join((*kit_schema.OUTBOX_V1, *kit_schema.OUTBOX_V2))}"
        )
    finally:
        await admin.close()
    settings = Settings(
        pg_dsn=f"{orders_dsn}?search_path={schema}",
        redis_url=local_platform.redis_url,
        amqp_url=local_platform.rabbitmq_info.amqp_url,
    )
    received: asyncio.Queue[consumer.Delivery] = asyncio.Queue()

    async def notify(delivery: consumer.Delivery) -> None:
        await received.put(delivery)

    async def create_order(request: web.Request) -> web.Response:
        order = await payloads.read_json(request, NewOrder)
        async with db.tenant_connection(request.app[db.POOL], order.tenant_id) as connection:
            event_id = await outbox.write(
                connection,
                exchange=topology.exchange,
                routing_key="order.created",
                payload=order.model_dump(mode="json"),
            )
        return web.json_response({"event": str(event_id)}, status=202)

    async def topology_ready(app: web.Application) -> AsyncIterator[None]:
        channel = await messaging.open_channel(app[messaging.CONNECTION])
        await topology.declare(channel)
        await channel.close()
        yield

    app = runtime_app.create(settings)
    app.cleanup_ctx.extend(
        [
            db.pool_context(settings),
            cache.client_context(settings),
            messaging.connection_context(settings),
            topology_ready,
            consumer.consumer_context(topology, notify),
            outbox.relay_context(db.POOL, local_platform.rabbitmq_info.amqp_url, name="orders"),
        ]
    )
    app.router.add_post("/orders", create_order)
    async with TestClient(TestServer(app)) as client:
        ready = await client.get("/readyz")
        assert ready.status == 200
        assert (await ready.json())["checks"] == ["postgres", "rabbitmq", "redis"]
        tenant = uuid.uuid4()
        response = await client.post("/orders", json={"tenant_id": str(tenant), "sku": "a-1"})
        assert response.status == 202
        event_id = (await response.json())["event"]
        delivery = await asyncio.wait_for(received.get(), 15)
    assert delivery.message_id == event_id
    assert delivery.routing_key == "order.created"
    assert pydantic.TypeAdapter(NewOrder).validate_json(delivery.body).sku == "a-1"
