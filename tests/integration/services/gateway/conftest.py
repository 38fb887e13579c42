"""The gateway in front of a real auth and a small upstream that echoes what it received."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from meridian.localplatform import platform
from meridian.services.gateway.app import create_app
from meridian.services.gateway.settings import Settings as GatewaySettings
from tests import issuer

# auth's fixtures (auth, make_tenant, make_user, registry, ...) serve the gateway's tests too.
from tests.integration.services.auth.conftest import *  # noqa: F403
from tests.integration.services.auth.conftest import AuthClient
from tests.integration.services.own_redis import free_port

GATEWAY = "meridian-gateway"
GatewayClient = TestClient[web.Request, web.Application]


async def _echo(request: web.Request) -> web.StreamResponse:
    if request.path.startswith("/v1/crash"):  # dies mid-request: the connection just closes
        assert request.transport is not None
        request.transport.close()
        return web.Response()
    if request.path.startswith("/v1/slow"):
        await asyncio.sleep(float(request.query.get("s", "2")))
    if request.path.startswith("/v1/big"):
        response = web.StreamResponse()
        await response.prepare(request)
        for _ in range(int(request.query.get("mib", "3"))):
            await response.write(b"y" * (1 << 20))
        await response.write_eof()
        return response
    body = await request.read()
    return web.json_response(
        {
            "method": request.method,
            "path": request.path_qs,
            "headers": dict(request.headers),
            "body_bytes": len(body),
        }
    )


@pytest_asyncio.fixture
async def upstream() -> AsyncIterator[TestServer]:
    app = web.Application(client_max_size=64 << 20)
    app.router.add_route("*", "/{path:.*}", _echo)
    async with TestServer(app) as server:
        yield server


MakeGateway = Callable[..., Awaitable[GatewayClient]]


@pytest_asyncio.fixture
async def make_gateway(
    local_platform: platform.PlatformState, auth: AuthClient, upstream: TestServer
) -> AsyncIterator[MakeGateway]:
    clients: list[GatewayClient] = []
    auth_url = str(auth.server.make_url("")).rstrip("/")
    upstream_url = str(upstream.make_url("")).rstrip("/")

    async def make(**overrides: Any) -> GatewayClient:
        values: dict[str, Any] = {
            "routes": {
                "/v1/auth": auth_url,
                "/v1/orders": upstream_url,
                "/v1/big": upstream_url,
                "/v1/crash": upstream_url,
                "/v1/slow": {"url": upstream_url, "timeout_s": 0.5},
                "/v1/nowhere": f"http://127.0.0.1:{free_port()}",
            },
            "jwks_url": f"{auth_url}/.well-known/jwks.json",
            "redis_url": local_platform.redis_url,
            "pg_dsn": local_platform.postgres_info.dsn("meridian_platform"),
            "port": 0,
            "jwks_min_refresh_s": 0,
            "max_body_bytes": 16 << 20,
            "identity_signing_key_file": issuer.key_file(GATEWAY),
            **overrides,
        }
        settings = GatewaySettings.model_validate(values)
        client = TestClient(TestServer(create_app(settings)))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest_asyncio.fixture
async def gateway(make_gateway: MakeGateway) -> GatewayClient:
    return await make_gateway()


async def token_for(auth: AuthClient, tenant_key: str) -> str:
    response = await auth.post("/v1/auth/token", headers={"Authorization": f"ApiKey {tenant_key}"})
    assert response.status == 200
    token: str = (await response.json())["access_token"]
    return token


async def metric(client: GatewayClient, name: str) -> float:
    text = await (await client.get("/metrics")).text()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def echoed(body: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(body)
    return document
