"""The platform's datastores are real servers: PostgreSQL (+ standby), Redis, RabbitMQ."""

from __future__ import annotations

import asyncio
import uuid

import aio_pika
import asyncpg
import redis.asyncio as aioredis

from meridian.localplatform import pg, platform


async def test_postgres_serves_every_meridian_database(
    local_platform: platform.PlatformState,
) -> None:
    info = local_platform.postgres_info
    for database in pg.DATABASES:
        connection = await asyncpg.connect(info.dsn(database))
        try:
            assert await connection.fetchval("SELECT current_database()") == database
            assert (await connection.fetchval("SHOW server_version")).startswith("15.")
        finally:
            await connection.close()


async def test_postgres_refuses_a_wrong_password(local_platform: platform.PlatformState) -> None:
    """Host connections authenticate with scram-sha-256; the DSN's password is required."""
    info = local_platform.postgres_info
    wrong = info.dsn().replace(info.password, "not-the-password")
    try:
        await asyncpg.connect(wrong)
    except asyncpg.InvalidPasswordError:
        return
    raise AssertionError("a wrong password was accepted")


async def test_standby_streams_what_the_primary_commits(
    local_platform: platform.PlatformState,
) -> None:
    info = local_platform.postgres_info
    table = f"t_{uuid.uuid4().hex[:8]}"
    primary = await asyncpg.connect(info.dsn())
    standby = await asyncpg.connect(info.dsn(standby=True))
    try:
        assert await standby.fetchval("SELECT pg_is_in_recovery()") is True
        await primary.execute(f"CREATE TABLE {table} (id int); INSERT INTO {table} VALUES (42)")
        for _ in range(100):
            exists = await standby.fetchval("SELECT to_regclass($1) IS NOT NULL", table)
            if exists and await standby.fetchval(f"SELECT id FROM {table}") == 42:
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError("the standby never replayed the row")
    finally:
        await primary.execute(f"DROP TABLE IF EXISTS {table}")
        await primary.close()
        await standby.close()


async def test_redis_answers(local_platform: platform.PlatformState) -> None:
    assert local_platform.redis_url is not None
    client = aioredis.from_url(local_platform.redis_url)
    try:
        key = f"test:{uuid.uuid4().hex}"
        await client.set(key, "1", ex=10)
        assert await client.get(key) == b"1"
        info = await client.info("server")
        assert str(info["redis_version"]).startswith("7.")
    finally:
        await client.aclose()


async def test_rabbitmq_routes_a_message_through_an_exchange(
    local_platform: platform.PlatformState,
) -> None:
    connection = await aio_pika.connect_robust(local_platform.rabbitmq_info.amqp_url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange(
            "orders.events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await channel.declare_queue(f"test.{uuid.uuid4().hex[:8]}", exclusive=True)
        await queue.bind(exchange, routing_key="order.created")
        await exchange.publish(aio_pika.Message(body=b'{"order": 1}'), routing_key="order.created")
        message = await queue.get(timeout=10)
        assert message is not None
        assert message.body == b'{"order": 1}'
        await message.ack()
