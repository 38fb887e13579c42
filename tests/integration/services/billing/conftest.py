"""Billing and a metering gateway in-process against the real platform (PostgreSQL, Redis).

Each test gets its own usage stream (suffix) and its own tenants (uuid4); the database
`meridian_billing` is shared, keyed by tenant. The gateway takes the test issuer's tokens and
forwards to a small upstream that answers 200 to everything, so every request it forwards is a
billable one whose count the test knows.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NamedTuple

import asyncpg
import pytest
import pytest_asyncio
import redis.asyncio as aioredis
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from meridian.core import migrations, registry
from meridian.core.registry import tenants
from meridian.core.registry.ratelimits import RateLimit
from meridian.localplatform import platform, stripe_mock
from meridian.services.billing import app as billing_app
from meridian.services.billing import consumers
from meridian.services.billing.settings import Settings as BillingSettings
from meridian.services.gateway import app as gateway_app
from meridian.services.gateway.settings import Settings as GatewaySettings
from meridian.services.kit import contracts
from meridian.services.kit.trust import tokens
from tests import issuer
from tests.integration.services.pipeline import delete_topology

Client = TestClient[Any, Any]
SCOPES = (contracts.BILLING_READ, contracts.BILLING_ADMIN, contracts.ORDERS_WRITE)
BILLING = tokens.principal("billing")


@pytest.fixture
def billing_dsn(local_platform: platform.PlatformState) -> str:
    return local_platform.postgres_info.dsn("meridian_billing")


@pytest.fixture
def stream(suffix: str) -> str:
    return f"test:{suffix}:usage"


@pytest.fixture
def billing_settings(
    local_platform: platform.PlatformState, billing_dsn: str, stream: str, suffix: str
) -> BillingSettings:
    return BillingSettings(
        pg_dsn=billing_dsn,
        redis_url=local_platform.redis_url,
        usage_stream=stream,
        usage_block_s=0.2,
        identity_issuers=issuer.issuers(issuer.TESTS),
        platform_dsn=local_platform.postgres_info.dsn("meridian_platform"),
        stripe_api_base=local_platform.stripe_url,
        stripe_api_key=stripe_mock.API_KEY,
        invoice_interval_s=0.2,
        stripe_backoff_base_s=0.2,
        stripe_backoff_cap_s=1.0,
        amqp_url=local_platform.rabbitmq_info.amqp_url,
        stripe_exchange=f"test-{suffix}.stripe.events",
        stripe_queue=f"test{suffix}.billing.stripe",
        retry_delay_s=0.2,
        kubeconfig=local_platform.kubeconfig,
        payment_grace_s=1.0,
        suspension_interval_s=0.2,
        # The app's own closer leaves every period of the last ten years open; tests close
        # periods by calling closing.close_once with a `now` and wait of their own.
        close_after_s=10 * 366 * 24 * 3600.0,
        close_interval_s=3600.0,
    )


@pytest_asyncio.fixture
async def billing(billing_settings: BillingSettings) -> AsyncIterator[Client]:
    async with TestClient(TestServer(billing_app.create_app(billing_settings))) as client:
        yield client
    assert billing_settings.amqp_url is not None
    await delete_topology(
        billing_settings.amqp_url.get_secret_value(), consumers.stripe_topology(billing_settings)
    )


async def _ok(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response(
        {"path": request.path}, status=201 if request.method == "POST" else 200
    )


@pytest_asyncio.fixture
async def upstream() -> AsyncIterator[TestServer]:
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", _ok)
    async with TestServer(app) as server:
        yield server


MakeGateway = Callable[..., Awaitable[Client]]


@pytest_asyncio.fixture
async def make_gateway(
    local_platform: platform.PlatformState, upstream: TestServer, stream: str
) -> AsyncIterator[MakeGateway]:
    clients: list[Client] = []
    upstream_url = str(upstream.make_url("")).rstrip("/")

    async def make(**overrides: Any) -> Client:
        values: dict[str, Any] = {
            "routes": {"/v1/orders": upstream_url, "/v1/search": upstream_url},
            "jwks_url": issuer.issuers(issuer.TESTS)[issuer.TESTS],
            "issuer": issuer.TESTS,
            "redis_url": local_platform.redis_url,
            "port": 0,
            "identity_signing_key_file": issuer.key_file("meridian-gateway"),
            "default_rate_limit_rps": 100_000,
            "default_rate_limit_burst": 100_000,
            "usage_stream": stream,
            "usage_flush_interval_s": 0.2,
            "usage_resend_after_s": 2.0,
            **overrides,
        }
        client = TestClient(TestServer(gateway_app.create_app(GatewaySettings(**values))))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def bearer(tenant_id: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.mint(tenant_id, SCOPES)}"}


def caller(tenant_id: uuid.UUID, scopes: tuple[str, ...] = SCOPES) -> dict[str, str]:
    """What the gateway sends billing for a user of `tenant_id`."""
    return {
        "Authorization": f"Bearer {issuer.mint(tenant_id, scopes, audience=BILLING)}",
        **issuer.headers(tenant_id, scopes),
    }


async def usage_of(billing: Client, tenant_id: uuid.UUID) -> dict[str, int]:
    response = await billing.get("/v1/billing/usage", headers=caller(tenant_id))
    assert response.status == 200, await response.text()
    found: dict[str, int] = (await response.json())["usage"]
    return found


class Registered(NamedTuple):
    id: uuid.UUID
    name: str
    customer: str


Register = Callable[[], Awaitable[Registered]]


@pytest_asyncio.fixture
async def register(local_platform: platform.PlatformState) -> AsyncIterator[Register]:
    """A tenant in the registry with a Stripe customer, as the Tenant operator leaves it."""
    dsn = local_platform.postgres_info.dsn("meridian_platform")
    await migrations.upgrade(dsn, registry.MIGRATIONS)
    connection = await asyncpg.connect(dsn)

    async def make() -> Registered:
        name = f"b{uuid.uuid4().hex[:10]}"
        record = tenants.TenantRecord(
            name=name,
            tier="starter",
            region="us-east-1",
            display_name="",
            state="active",
            limits={},
            rate_limit=RateLimit(1000, 1000),
        )
        tenant_id = await tenants.upsert(connection, record)
        await tenants.record_billing(connection, tenant_id, customer_id=f"cus_{name}")
        return Registered(tenant_id, name, f"cus_{name}")

    yield make
    await connection.close()


async def put_usage(
    local_platform: platform.PlatformState,
    stream: str,
    tenant_id: uuid.UUID,
    sealed_at: datetime.datetime | None = None,
    **quantities: int,
) -> None:
    """A usage batch on the stream, as a gateway would seal it (now, unless `sealed_at`)."""
    batch = contracts.UsageBatch(
        batch_id=uuid.uuid4(),
        source="test",
        sealed_at=sealed_at or datetime.datetime.now(datetime.UTC),
        counts=[
            contracts.UsageCount(tenant_id=tenant_id, product=product, quantity=quantity)  # type: ignore[arg-type]
            for product, quantity in quantities.items()
        ],
    )
    redis = aioredis.Redis.from_url(local_platform.redis_url)
    try:
        await redis.xadd(stream, {"batch": batch.model_dump_json()})
    finally:
        await redis.aclose()
