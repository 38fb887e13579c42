"""Per-test isolation on the shared platform: a fresh PostgreSQL schema, fresh AMQP names."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aio_pika
import asyncpg
import pytest
import pytest_asyncio
from aio_pika import abc as pika_abc

from meridian.core.runtime import db
from meridian.localplatform import platform
from tests.integration.services.own_redis import own_redis

__all__ = ["own_redis"]  # a Redis of the test's own, to stop and start


@pytest.fixture
def suffix() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def orders_dsn(local_platform: platform.PlatformState) -> str:
    return local_platform.postgres_info.dsn("meridian_orders")


@pytest.fixture
def amqp_url(local_platform: platform.PlatformState) -> str:
    return local_platform.rabbitmq_info.amqp_url


@pytest_asyncio.fixture
async def schema(orders_dsn: str, suffix: str) -> AsyncIterator[str]:
    name = f"t_{suffix}"
    connection = await asyncpg.connect(orders_dsn)
    try:
        await connection.execute(f"CREATE SCHEMA {name}")
        yield name
        await connection.execute(f"DROP SCHEMA {name} CASCADE")
    finally:
        await connection.close()


@pytest_asyncio.fixture
async def pool(orders_dsn: str, schema: str) -> AsyncIterator[db.Pool]:
    """The kit's pool, its search_path on the test's schema (asyncpg passes DSN params through)."""
    pool = await db.create_pool(
        f"{orders_dsn}?search_path={schema}", application_name="kit-tests", max_size=4
    )
    yield pool
    await pool.close()


@pytest_asyncio.fixture
async def amqp(amqp_url: str) -> AsyncIterator[pika_abc.AbstractRobustConnection]:
    connection = await aio_pika.connect_robust(amqp_url)
    yield connection
    await connection.close()


async def delete_queues(
    connection: pika_abc.AbstractConnection, *names: str, exchange: str | None = None
) -> None:
    channel = await connection.channel()
    for name in names:
        await channel.queue_delete(name)
    if exchange:
        await channel.exchange_delete(exchange)
    await channel.close()
