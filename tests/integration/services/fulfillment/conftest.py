"""Fulfillment in-process against the real platform, with the carrier fake on a port of its own.

Each test gets its own exchange and queue names (suffix), its own carrier (fresh state) and its
own tenants; the database `meridian_fulfillment` and the bucket are shared, keyed by tenant.
"""

from __future__ import annotations

import contextlib
import datetime
import io
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pypdf
import pytest
import pytest_asyncio
from aio_pika import abc as pika_abc
from aiohttp.test_utils import TestClient, TestServer
from mypy_boto3_s3 import S3Client

from meridian.localplatform import carrier, platform, s3_server
from meridian.services.fulfillment import app, consumers
from meridian.services.fulfillment.settings import Settings as FulfillmentSettings
from meridian.services.kit import contracts
from meridian.services.kit.events import messaging
from tests import issuer, tenants
from tests.integration.services.conftest import delete_queues
from tests.waiting import eventually

Client = TestClient[Any, Any]


@pytest.fixture
def fulfillment_dsn(local_platform: platform.PlatformState) -> str:
    return local_platform.postgres_info.dsn("meridian_fulfillment")


@pytest_asyncio.fixture
async def carrier_server() -> AsyncIterator[TestServer]:
    async with TestServer(carrier.create_app()) as server:
        yield server


def carrier_state(server: TestServer) -> carrier.CarrierState:
    return server.app[carrier.STATE]


@pytest.fixture
def settings(
    local_platform: platform.PlatformState,
    fulfillment_dsn: str,
    carrier_server: TestServer,
    suffix: str,
) -> FulfillmentSettings:
    return FulfillmentSettings(
        pg_dsn=fulfillment_dsn,
        amqp_url=local_platform.rabbitmq_info.amqp_url,
        carrier_url=str(carrier_server.make_url("/")).rstrip("/"),
        carrier_api_key=carrier.API_KEY,
        carrier_attempts=3,
        carrier_backoff_base_s=0.01,
        carrier_backoff_cap_s=0.05,
        s3_endpoint=local_platform.s3_endpoint,
        s3_region=s3_server.REGION,
        s3_access_key_id=s3_server.ACCESS_KEY,
        s3_secret_access_key=s3_server.SECRET_KEY,
        orders_exchange=f"test-{suffix}.orders.events",
        orders_queue=f"test{suffix}.fulfillment.orders",
        events_exchange=f"test-{suffix}.fulfillment.events",
        retry_delay_s=0.2,
        identity_issuers=issuer.issuers(issuer.TESTS),
    )


@dataclass
class Events:
    """A test queue bound to the service's events exchange: what the relay published."""

    queue: pika_abc.AbstractQueue
    dsn: str
    exchange: str

    async def take(self, count: int, *, within: float = 20) -> list[contracts.ShipmentEvent]:
        found: list[contracts.ShipmentEvent] = []

        async def collected() -> bool:
            """the expected shipment.created events arrived"""
            message = await self.queue.get(fail=False)
            if message is not None:
                await message.ack()
                assert message.routing_key == "shipment.created"
                found.append(contracts.ShipmentEvent.model_validate_json(message.body))
            return len(found) >= count

        await eventually(collected, within=within, interval=0.05)
        return found

    async def none_left(self, *, within: float = 20) -> bool:
        """No further event: once the relay has marked every row for this exchange sent (each
        publish confirmed, so queued), the queue holds whatever else it published."""

        async def relayed() -> bool:
            """the relay sent every outbox row bound for the test's exchange"""
            connection = await asyncpg.connect(self.dsn)
            try:
                unsent = await connection.fetchval(
                    "SELECT count(*) FROM outbox WHERE exchange = $1 AND sent_at IS NULL",
                    self.exchange,
                )
            finally:
                await connection.close()
            return int(unsent) == 0

        await eventually(relayed, within=within, interval=0.05)
        return await self.queue.get(fail=False) is None


@pytest_asyncio.fixture
async def events(
    amqp: pika_abc.AbstractRobustConnection,
    settings: FulfillmentSettings,
    fulfillment_dsn: str,
    suffix: str,
) -> AsyncIterator[Events]:
    """Declared before the service starts, so the first shipment.created already has a route."""
    channel = await messaging.open_channel(amqp)
    await messaging.declare_exchange(channel, settings.events_exchange)
    queue = await channel.declare_queue(f"test{suffix}.shipments", durable=True)
    await queue.bind(settings.events_exchange, "shipment.created")
    yield Events(queue, fulfillment_dsn, settings.events_exchange)
    await channel.close()
    topology = consumers.orders_topology(settings)
    await delete_queues(
        amqp,
        f"test{suffix}.shipments",
        f"{settings.events_exchange}.retained",
        topology.queue,
        topology.retry_queue,
        topology.dlq,
        exchange=settings.events_exchange,
    )
    await delete_queues(amqp, exchange=settings.orders_exchange)


@pytest.fixture
def running(
    events: Events,
) -> Callable[[FulfillmentSettings], contextlib.AbstractAsyncContextManager[Client]]:
    """Start the service (migrations, consumer, relay) with the given settings; stop it after."""

    @contextlib.asynccontextmanager
    async def run(settings: FulfillmentSettings) -> AsyncIterator[Client]:
        async with TestClient(TestServer(app.create_app(settings))) as client:
            yield client

    return run


@pytest_asyncio.fixture
async def service(
    running: Callable[[FulfillmentSettings], contextlib.AbstractAsyncContextManager[Client]],
    settings: FulfillmentSettings,
) -> AsyncIterator[Client]:
    async with running(settings) as client:
        yield client


def order_confirmed(
    *allocations: tuple[str, str, int],
    tenant_id: uuid.UUID | None = None,
    message_id: uuid.UUID | None = None,
) -> contracts.OrderEvent:
    """An `order.confirmed` as orders publishes it: (sku, warehouse, quantity) per allocation."""
    return contracts.OrderEvent(
        type="order.confirmed",
        message_id=message_id or uuid.uuid4(),
        occurred_at=datetime.datetime.now(datetime.UTC),
        tenant_id=tenant_id or uuid.uuid4(),
        order_id=uuid.uuid4(),
        state="confirmed",
        lines=[contracts.Line(sku=sku, quantity=q) for sku, _, q in allocations],
        allocations=[
            contracts.Allocation(sku=s, warehouse=w, quantity=q) for s, w, q in allocations
        ],
    )


@pytest_asyncio.fixture
async def publish(
    amqp: pika_abc.AbstractRobustConnection, settings: FulfillmentSettings
) -> AsyncIterator[Callable[..., Any]]:
    """Publish an order event (or raw bytes) on the orders exchange, as orders' relay does."""
    channel = await messaging.open_channel(amqp)
    publisher = messaging.Publisher(channel)

    async def send(
        event: contracts.OrderEvent | bytes, routing_key: str = "order.confirmed"
    ) -> str:
        if isinstance(event, bytes):
            return await publisher.publish(settings.orders_exchange, routing_key, event)
        return await publisher.publish(
            settings.orders_exchange,
            event.type,
            event.model_dump_json().encode(),
            message_id=str(event.message_id),
        )

    yield send
    await channel.close()


@pytest.fixture
def s3(local_platform: platform.PlatformState) -> S3Client:
    return tenants.s3(local_platform)


def label_text(s3: S3Client, key: str) -> str:
    """The label PDF stored at `key`, parsed strictly; its page's text."""
    body = s3.get_object(Bucket="meridian-fulfillment", Key=key)["Body"].read()
    reader = pypdf.PdfReader(io.BytesIO(body), strict=True)
    assert len(reader.pages) == 1
    return reader.pages[0].extract_text()


async def shipments_of(
    client: Client, tenant_id: uuid.UUID, order_id: uuid.UUID
) -> list[dict[str, Any]]:
    response = await client.get(
        "/v1/fulfillment/shipments",
        params={"order_id": str(order_id)},
        headers={"Authorization": f"Bearer {issuer.mint(tenant_id, [contracts.ORDERS_READ])}"},
    )
    assert response.status == 200
    items: list[dict[str, Any]] = (await response.json())["items"]
    return items


async def dead_letters(
    amqp: pika_abc.AbstractRobustConnection, queue_name: str, count: int
) -> list[pika_abc.AbstractIncomingMessage]:
    channel = await amqp.channel()
    queue = await channel.declare_queue(queue_name, passive=True)
    found: list[pika_abc.AbstractIncomingMessage] = []

    async def collected() -> bool:
        """the DLQ received the expected messages"""
        message = await queue.get(fail=False)
        if message is not None:
            await message.ack()
            found.append(message)
        return len(found) >= count

    try:
        await eventually(collected, within=30, interval=0.05)
    finally:
        await channel.close()
    return found
