"""The gateway: authentication, identity headers, routing, timeouts, rate limits, degradation."""

from __future__ import annotations

import asyncio
import io

import asyncpg
import jwt

from meridian.core.registry import ratelimits
from meridian.core.runtime import cache, db
from meridian.services.auth import keys
from tests.integration.services.auth.conftest import AuthClient, MakeTenant, MakeUser
from tests.integration.services.gateway.conftest import (
    GatewayClient,
    MakeGateway,
    echoed,
    metric,
    token_for,
)
from tests.integration.services.own_redis import RedisServer, free_port

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"


async def test_no_token_is_a_401_problem(gateway: GatewayClient) -> None:
    response = await gateway.get("/v1/orders")
    assert response.status == 401
    assert response.content_type == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    forged = jwt.encode({"sub": "x"}, "s" * 32, algorithm="HS256", headers={"kid": "k"})
    for token in ("garbage", forged):
        answer = await gateway.get("/v1/orders", headers={"Authorization": f"Bearer {token}"})
        assert answer.status == 401


async def test_identity_headers_come_from_the_token_not_the_client(
    gateway: GatewayClient, auth: AuthClient, make_tenant: MakeTenant
) -> None:
    tenant, other = await make_tenant(), await make_tenant()
    token = await token_for(auth, tenant.api_key.token)
    response = await gateway.post(
        "/v1/orders/123?x=1",
        json={"sku": "a"},
        headers={
            "Authorization": f"Bearer {token}",
            "X-Meridian-Tenant-Id": str(other.id),
            "X-Meridian-Subject": "admin",
            "X-Meridian-Scopes": "everything",
            "X-Request-ID": "req-abc-123",
            "traceparent": f"00-{TRACE_ID}-00f067aa0ba902b7-01",
        },
    )
    assert response.status == 200
    seen = echoed(await response.text())
    assert seen["path"] == "/v1/orders/123?x=1"
    headers = {name.lower(): value for name, value in seen["headers"].items()}
    assert headers["x-meridian-tenant-id"] == str(tenant.id)
    assert headers["x-meridian-subject"] == f"apikey:{tenant.api_key.prefix}"
    assert "everything" not in headers["x-meridian-scopes"]
    assert headers["x-request-id"] == "req-abc-123"
    assert response.headers["X-Request-ID"] == "req-abc-123"
    # The trace continues: same trace id, the gateway's own span as parent.
    version, trace_id, parent, _flags = headers["traceparent"].split("-")
    assert (version, trace_id) == ("00", TRACE_ID)
    assert parent != "00f067aa0ba902b7"
    assert seen["body_bytes"] == len(b'{"sku": "a"}')


async def test_login_through_the_public_route_then_call_a_service(
    gateway: GatewayClient, make_user: MakeUser
) -> None:
    user = await make_user()
    login = await gateway.post(
        "/v1/auth/login",
        json={"tenant": user.tenant.name, "email": user.email, "password": user.password},
    )
    assert login.status == 200
    token = (await login.json())["access_token"]
    response = await gateway.get("/v1/orders", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200
    headers = {k.lower(): v for k, v in echoed(await response.text())["headers"].items()}
    assert headers["x-meridian-subject"] == str(user.id)
    assert headers["x-meridian-scopes"] == "orders:read orders:write"


async def test_bad_input_through_the_gateway_is_the_services_problem(
    gateway: GatewayClient,
) -> None:
    response = await gateway.post(
        "/v1/auth/login", data=b"{oops", headers={"Content-Type": "application/json"}
    )
    assert response.status == 400
    assert response.content_type == "application/problem+json"
    wrong = await gateway.post(
        "/v1/auth/login", json={"tenant": 5, "email": "a@b", "password": "p"}
    )
    assert wrong.status == 422
    assert "/tenant" in [e["field"] for e in (await wrong.json())["errors"]]


async def test_a_revoked_token_is_refused(
    gateway: GatewayClient, auth: AuthClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    token = await token_for(auth, tenant.api_key.token)
    bearer = {"Authorization": f"Bearer {token}"}
    assert (await gateway.get("/v1/orders", headers=bearer)).status == 200
    assert (await gateway.post("/v1/auth/revoke", headers=bearer)).status == 204
    refused = await gateway.get("/v1/orders", headers=bearer)
    assert refused.status == 401
    assert "revoked" in (await refused.json())["detail"]


async def test_a_key_rotated_at_auth_is_fetched_on_its_first_token(
    gateway: GatewayClient, auth: AuthClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    old = await token_for(auth, tenant.api_key.token)
    await keys.rotate(auth.app[db.POOL], auth.app[keys.RING].settings, activate_in=0)
    await auth.app[keys.RING].reload(auth.app[db.POOL])
    new = await token_for(auth, tenant.api_key.token)
    for token in (old, new):
        response = await gateway.get("/v1/orders", headers={"Authorization": f"Bearer {token}"})
        assert response.status == 200


async def test_unknown_path_is_404_and_upstream_failures_say_whether_it_may_have_acted(
    gateway: GatewayClient, auth: AuthClient, make_tenant: MakeTenant
) -> None:
    """503 + Retry-After: no connection, nothing sent. 502: it broke off mid-request. 504: too
    slow. The last two may have acted, and say so."""
    tenant = await make_tenant()
    bearer = {"Authorization": f"Bearer {await token_for(auth, tenant.api_key.token)}"}
    assert (await gateway.get("/v2/else", headers=bearer)).status == 404
    assert (await gateway.get("/v1/ordersx", headers=bearer)).status == 404
    unreachable = await gateway.post("/v1/nowhere", json={}, headers=bearer)
    assert unreachable.status == 503
    assert unreachable.headers["Retry-After"] == "1"
    assert "not sent" in (await unreachable.json())["detail"]
    crashed = await gateway.post("/v1/crash", json={}, headers=bearer)
    assert crashed.status == 502
    assert "may have acted" in (await crashed.json())["detail"]
    slow = await gateway.get("/v1/slow?s=2", headers=bearer)
    assert slow.status == 504
    assert "may have acted" in (await slow.json())["detail"]
    for failed in (unreachable, crashed, slow):
        assert failed.content_type == "application/problem+json"
    fast_enough = await gateway.get("/v1/slow?s=0.05", headers=bearer)
    assert fast_enough.status == 200


async def test_the_latency_the_gateway_adds_is_measured_without_the_upstreams(
    gateway: GatewayClient, auth: AuthClient, make_tenant: MakeTenant
) -> None:
    """The SLO's own figure in production: the gateway's share of each request, by route; an
    upstream that takes 300 ms does not count towards it."""
    tenant = await make_tenant()
    bearer = {"Authorization": f"Bearer {await token_for(auth, tenant.api_key.token)}"}
    for _ in range(3):
        assert (await gateway.get("/v1/orders", headers=bearer)).status == 200
    assert (await gateway.get("/v1/slow?s=0.3", headers=bearer)).status == 200
    overhead = "meridian_gateway_overhead_seconds"
    assert await metric(gateway, overhead + '_count{route="/v1/orders"}') == 3
    assert await metric(gateway, overhead + '_count{route="/v1/slow"}') == 1
    # Well under the upstream's 300 ms: the time upstream is not the gateway's.
    assert await metric(gateway, overhead + '_bucket{le="0.1",route="/v1/slow"}') == 1


async def test_large_bodies_stream_both_ways(
    gateway: GatewayClient, auth: AuthClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    bearer = {"Authorization": f"Bearer {await token_for(auth, tenant.api_key.token)}"}
    upload = await gateway.post("/v1/orders", data=io.BytesIO(b"z" * (5 << 20)), headers=bearer)
    assert upload.status == 200
    assert echoed(await upload.text())["body_bytes"] == 5 << 20
    download = await gateway.get("/v1/big?mib=3", headers=bearer)
    assert download.status == 200
    assert len(await download.read()) == 3 << 20


async def test_burst_then_429_with_retry_after_and_each_tenant_has_its_own_bucket(
    gateway: GatewayClient, auth: AuthClient, make_tenant: MakeTenant
) -> None:
    """A's limit comes from its registry row (not yet in Redis); B's is untouched by A's."""
    a = await make_tenant(rps=1, burst=3)
    b = await make_tenant(rps=1, burst=5)
    bearer_a = {"Authorization": f"Bearer {await token_for(auth, a.api_key.token)}"}
    bearer_b = {"Authorization": f"Bearer {await token_for(auth, b.api_key.token)}"}
    statuses = [(await gateway.get("/v1/orders", headers=bearer_a)).status for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = await gateway.get("/v1/orders", headers=bearer_a)
    assert refused.status == 429
    assert refused.content_type == "application/problem+json"
    assert int(refused.headers["Retry-After"]) >= 1
    statuses_b = [(await gateway.get("/v1/orders", headers=bearer_b)).status for _ in range(5)]
    assert statuses_b == [200] * 5
    assert (await gateway.get("/v1/orders", headers=bearer_b)).status == 429
    # The registry's value was cached where the operator publishes it.
    cached = await ratelimits.cached(gateway.app[cache.CLIENT], a.id)
    assert cached == ratelimits.RateLimit(1, 3)


async def test_the_operators_published_limit_is_used(
    gateway: GatewayClient, auth: AuthClient, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant(rps=100, burst=100)
    redis = gateway.app[cache.CLIENT]
    await ratelimits.publish(redis, tenant.id, ratelimits.RateLimit(1, 2))
    bearer = {"Authorization": f"Bearer {await token_for(auth, tenant.api_key.token)}"}
    statuses = [(await gateway.get("/v1/orders", headers=bearer)).status for _ in range(3)]
    assert statuses == [200, 200, 429]
    await ratelimits.withdraw(redis, tenant.id)


async def test_redis_down_lets_requests_pass_and_says_so_then_recovers(
    make_gateway: MakeGateway,
    auth: AuthClient,
    make_tenant: MakeTenant,
    own_redis: RedisServer,
) -> None:
    gateway = await make_gateway(redis_url=own_redis.url, redis_retry_s=0.2)
    tenant = await make_tenant(rps=1, burst=2)
    bearer = {"Authorization": f"Bearer {await token_for(auth, tenant.api_key.token)}"}
    assert (await gateway.get("/v1/orders", headers=bearer)).status == 200
    assert await metric(gateway, "meridian_gateway_ratelimit_degraded") == 0
    await own_redis.stop()
    statuses = [(await gateway.get("/v1/orders", headers=bearer)).status for _ in range(6)]
    assert statuses == [200] * 6  # over the burst of 2, yet admitted: permissive
    assert await metric(gateway, "meridian_gateway_ratelimit_degraded") == 1
    assert await metric(gateway, "meridian_gateway_ratelimit_bypassed_total") == 6
    await own_redis.start()
    await asyncio.sleep(0.3)  # past redis_retry_s: the next request probes Redis
    for _ in range(20):
        await gateway.get("/v1/orders", headers=bearer)
        if await metric(gateway, "meridian_gateway_ratelimit_degraded") == 0:
            break
        await asyncio.sleep(0.2)
    assert await metric(gateway, "meridian_gateway_ratelimit_degraded") == 0
    # Limiting is back: a fresh Redis, a fresh bucket of 2.
    statuses = [(await gateway.get("/v1/orders", headers=bearer)).status for _ in range(3)]
    assert 429 in statuses


async def test_redis_on_a_closed_port_degrades_from_the_start(
    make_gateway: MakeGateway, auth: AuthClient, make_tenant: MakeTenant
) -> None:
    gateway = await make_gateway(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    tenant = await make_tenant()
    bearer = {"Authorization": f"Bearer {await token_for(auth, tenant.api_key.token)}"}
    assert (await gateway.get("/v1/orders", headers=bearer)).status == 200
    assert await metric(gateway, "meridian_gateway_ratelimit_degraded") == 1
    ready = await gateway.get("/readyz")
    assert ready.status == 503


async def test_tenants_rows_are_read_under_rls(
    registry: asyncpg.Connection, make_tenant: MakeTenant
) -> None:
    """The gateway's registry read sees the named tenant's row only."""
    a, b = await make_tenant(), await make_tenant()
    async with registry.transaction():
        await registry.execute("SET LOCAL ROLE meridian_app")
        await registry.execute("SELECT set_config('meridian.tenant_id', $1, true)", str(a.id))
        rows = await registry.fetch(
            "SELECT id FROM platform.tenants WHERE id = ANY($1)", [a.id, b.id]
        )
    assert [row["id"] for row in rows] == [a.id]


async def test_the_gateway_serves_its_own_description_and_keys_not_the_proxy(
    gateway: GatewayClient,
) -> None:
    """Its routes come before the catch-all proxy route, which would answer 401 for them."""
    described = await gateway.get("/openapi.json")
    assert described.status == 200
    assert (await described.json())["info"]["title"].lower().startswith("meridian gateway")
    keys = await gateway.get("/.well-known/jwks.json")
    assert keys.status == 200
    assert [key["kty"] for key in (await keys.json())["keys"]] == ["RSA"]
