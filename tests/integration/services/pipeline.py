"""Helpers for the order pipeline's tests: services served in-process on port 0, callers' headers.

Each test gets its own queue names (a suffix) and tenants (uuid4), so tests can run again and
beside one another on one platform; queues are deleted when the service stops.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import aio_pika

from meridian.core.runtime import app as runtime_app
from meridian.localplatform import platform
from meridian.services.inventory import app as inventory_app
from meridian.services.inventory import settings as inventory_settings
from meridian.services.kit import contracts
from meridian.services.kit.events import messaging
from meridian.services.orders import app as orders_app
from meridian.services.orders import settings as orders_settings
from tests import issuer

ALL_SCOPES = issuer.ALL_SCOPES


def caller(tenant_id: uuid.UUID, scopes: tuple[str, ...] = ALL_SCOPES) -> dict[str, str]:
    """What the gateway would send for a user of `tenant_id` with `scopes`: its token and the
    identity headers."""
    return {
        "Authorization": f"Bearer {issuer.mint(tenant_id, scopes)}",
        contracts.TENANT_HEADER: str(tenant_id),
        contracts.SUBJECT_HEADER: "user-1",
        contracts.SCOPES_HEADER: " ".join(scopes),
    }


def inventory_config(
    local_platform: platform.PlatformState, suffix: str, **overrides: Any
) -> inventory_settings.Settings:
    values: dict[str, Any] = {
        "port": 0,
        "pg_dsn": local_platform.postgres_info.dsn("meridian_inventory"),
        "redis_url": local_platform.redis_url,
        "amqp_url": local_platform.rabbitmq_info.amqp_url,
        "pg_pool_max": 20,
        "shipments_queue": f"inventory.shipments.{suffix}",
        "identity_issuers": issuer.issuers(issuer.TESTS, issuer.ORDERS),
        "retry_delay_s": 0.1,
    }
    return inventory_settings.Settings(**{**values, **overrides})


def orders_config(
    local_platform: platform.PlatformState, suffix: str, inventory_url: str, **overrides: Any
) -> orders_settings.Settings:
    values: dict[str, Any] = {
        "port": 0,
        "pg_dsn": local_platform.postgres_info.dsn("meridian_orders"),
        "redis_url": local_platform.redis_url,
        "amqp_url": local_platform.rabbitmq_info.amqp_url,
        "pg_pool_max": 20,
        "inventory_url": inventory_url,
        "shipments_queue": f"orders.shipments.{suffix}",
        "identity_issuers": issuer.issuers(issuer.TESTS),
        "identity_signing_key_file": issuer.key_file(issuer.ORDERS),
        "retry_delay_s": 0.1,
    }
    return orders_settings.Settings(**{**values, **overrides})


async def delete_topology(amqp_url: str, topology: messaging.Topology) -> None:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        for name in (topology.queue, topology.retry_queue, topology.dlq):
            await channel.queue_delete(name)
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def serving_inventory(settings: inventory_settings.Settings) -> AsyncIterator[str]:
    from meridian.services.inventory import consumers

    server = runtime_app.Server(inventory_app.create_app(settings), settings)
    try:
        yield await server.start()
    finally:
        await server.stop()
        assert settings.amqp_url is not None
        await delete_topology(
            settings.amqp_url.get_secret_value(), consumers.shipments_topology(settings)
        )


@contextlib.asynccontextmanager
async def serving_orders(settings: orders_settings.Settings) -> AsyncIterator[str]:
    from meridian.services.orders import consumers

    server = runtime_app.Server(orders_app.create_app(settings), settings)
    try:
        yield await server.start()
    finally:
        await server.stop()
        assert settings.amqp_url is not None
        await delete_topology(
            settings.amqp_url.get_secret_value(), consumers.shipments_topology(settings)
        )
