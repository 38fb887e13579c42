"""Billing and a metering gateway in-process against the real platform (PostgreSQL, Redis).

Each test gets its own usage stream (suffix) and its own tenants (uuid4); the database
`meridian_billing` is shared, keyed by tenant. The gateway takes the test issuer's tokens and
forwards to a small upstream that answers 200 to everything, so every request it forwards is a
billable one whose count the test knows.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from meridian.localplatform import platform
from meridian.services.billing import app as billing_app
from meridian.services.billing.settings import Settings as BillingSettings
from meridian.services.gateway import app as gateway_app
from meridian.services.gateway.settings import Settings as GatewaySettings
from meridian.services.kit import contracts
from meridian.services.kit.trust import tokens
from tests import issuer

Client = TestClient[Any, Any]
SCOPES = (contracts.BILLING_READ, contracts.ORDERS_WRITE)
BILLING = tokens.principal("billing")


@pytest.fixture
def billing_dsn(local_platform: platform.PlatformState) -> str:
    return local_platform.postgres_info.dsn("meridian_billing")


@pytest.fixture
def stream(suffix: str) -> str:
    return f"test:{suffix}:usage"


@pytest.fixture
def billing_settings(
    local_platform: platform.PlatformState, billing_dsn: str, stream: str
) -> BillingSettings:
    return BillingSettings(
        pg_dsn=billing_dsn,
        redis_url=local_platform.redis_url,
        usage_stream=stream,
        usage_block_s=0.2,
        identity_issuers=issuer.issuers(issuer.TESTS),
    )


@pytest_asyncio.fixture
async def billing(billing_settings: BillingSettings) -> AsyncIterator[Client]:
    async with TestClient(TestServer(billing_app.create_app(billing_settings))) as client:
        yield client


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
