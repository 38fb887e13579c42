"""The webhook handler in-process against the real platform (PostgreSQL, RabbitMQ).

Each test gets its own database (`tests.databases`: a processor claims every unprocessed event in
its database, so a shared one would relay what an earlier test left to this test's exchange), its
own exchange (suffix), its own signing secrets (files in tmp_path) and its own event ids.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aio_pika import abc as pika_abc
from aiohttp.test_utils import TestClient, TestServer

from meridian.localplatform import platform
from meridian.services.kit import contracts
from meridian.services.kit.events import messaging
from meridian.services.stripe_webhooks import app, signature
from meridian.services.stripe_webhooks.settings import Settings
from tests import databases
from tests.integration.services.conftest import delete_queues
from tests.waiting import eventually

Client = TestClient[Any, Any]
CURRENT, PREVIOUS = "whsec_current_" + uuid.uuid4().hex, "whsec_previous_" + uuid.uuid4().hex


@pytest_asyncio.fixture
async def webhooks_dsn(local_platform: platform.PlatformState) -> AsyncIterator[str]:
    async with databases.fresh(local_platform, "stripe_t") as dsn:
        yield dsn


@pytest.fixture
def secret_files(tmp_path: Path) -> tuple[Path, Path]:
    current, previous = tmp_path / "signing-secret", tmp_path / "previous-signing-secret"
    current.write_text(CURRENT + "\n")
    previous.write_text(PREVIOUS)
    return current, previous


@pytest.fixture
def settings(
    local_platform: platform.PlatformState,
    webhooks_dsn: str,
    secret_files: tuple[Path, Path],
    suffix: str,
) -> Settings:
    return Settings(
        pg_dsn=webhooks_dsn,
        amqp_url=local_platform.rabbitmq_info.amqp_url,
        signing_secret_file=secret_files[0],
        previous_signing_secret_file=secret_files[1],
        events_exchange=f"test-{suffix}.stripe.events",
        process_interval_s=0.2,
    )


def event(event_type: str = "invoice.paid", **obj: Any) -> dict[str, Any]:
    """A Stripe event envelope as Stripe posts it (fields the handler reads, and a few more)."""
    return {
        "id": f"evt_{uuid.uuid4().hex}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "type": event_type,
        "data": {"object": {"id": f"in_{uuid.uuid4().hex[:14]}", "object": "invoice", **obj}},
    }


def signed(
    body: dict[str, Any] | bytes, secret: str = CURRENT, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    at = int(time.time()) if timestamp is None else timestamp
    return payload, {
        "Content-Type": "application/json",
        signature.HEADER: signature.header(payload, [secret], at),
    }


@dataclass
class Relayed:
    """A test queue bound to the handler's exchange: the messages billing would get."""

    queue: pika_abc.AbstractQueue

    async def take(self, count: int, *, within: float = 20) -> list[contracts.StripeEvent]:
        found: list[contracts.StripeEvent] = []

        async def collected() -> bool:
            """the expected stripe.event messages arrived"""
            message = await self.queue.get(fail=False)
            if message is not None:
                await message.ack()
                found.append(contracts.StripeEvent.model_validate_json(message.body))
            return len(found) >= count

        await eventually(collected, within=within, interval=0.05)
        return found

    async def empty(self) -> bool:
        return await self.queue.get(fail=False) is None


@pytest_asyncio.fixture
async def relayed(
    amqp: pika_abc.AbstractRobustConnection, settings: Settings, suffix: str
) -> AsyncIterator[Relayed]:
    channel = await messaging.open_channel(amqp)
    await messaging.declare_exchange(channel, settings.events_exchange)
    queue = await channel.declare_queue(f"test{suffix}.billing.stripe", durable=True)
    await queue.bind(settings.events_exchange, "#")
    yield Relayed(queue)
    await channel.close()
    await delete_queues(
        amqp,
        f"test{suffix}.billing.stripe",
        f"{settings.events_exchange}.retained",
        exchange=settings.events_exchange,
    )


@pytest_asyncio.fixture
async def client(settings: Settings, relayed: Relayed) -> AsyncIterator[Client]:
    async with TestClient(TestServer(app.create_app(settings))) as test_client:
        yield test_client
