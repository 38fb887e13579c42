"""Metering: what the gateway forwards is what billing stores, once per batch id."""

from __future__ import annotations

import collections
import datetime
import uuid

import redis.asyncio as aioredis

from meridian.core.runtime import problems
from meridian.localplatform import platform
from meridian.services.billing.settings import Settings as BillingSettings
from meridian.services.kit import contracts
from tests.integration.services.billing.conftest import (
    Client,
    MakeGateway,
    bearer,
    caller,
    usage_of,
)
from tests.waiting import eventually, sample


async def test_forwarded_requests_are_metered_by_product_for_the_callers_tenant(
    billing: Client, make_gateway: MakeGateway
) -> None:
    gateway = await make_gateway()
    acme, globex = uuid.uuid4(), uuid.uuid4()
    for _ in range(3):
        assert (await gateway.post("/v1/orders", json={}, headers=bearer(acme))).status == 201
    for _ in range(2):
        assert (await gateway.get("/v1/search/products?q=x", headers=bearer(acme))).status == 200
    assert (await gateway.get("/v1/orders/1", headers=bearer(globex))).status == 200
    assert (await gateway.get("/v1/orders/1")).status == 401  # no tenant: not billable

    async def metered() -> bool:
        """billing shows both tenants' usage"""
        return await usage_of(billing, acme) == {
            "api_calls": 5,
            "orders_placed": 3,
            "searches": 2,
        } and await usage_of(billing, globex) == {"api_calls": 1, "orders_placed": 0, "searches": 0}

    await eventually(metered, within=20, interval=0.2)


async def test_a_batch_delivered_twice_is_counted_once_and_a_foreign_entry_is_dropped(
    billing: Client,
    billing_settings: BillingSettings,
    local_platform: platform.PlatformState,
) -> None:
    tenant = uuid.uuid4()
    batch = contracts.UsageBatch(
        batch_id=uuid.uuid4(),
        source="test",
        sealed_at=datetime.datetime.now(datetime.UTC),
        counts=[contracts.UsageCount(tenant_id=tenant, product="api_calls", quantity=7)],
    )
    redis = aioredis.Redis.from_url(local_platform.redis_url)
    try:
        for _ in range(2):
            await redis.xadd(billing_settings.usage_stream, {"batch": batch.model_dump_json()})
        await redis.xadd(billing_settings.usage_stream, {"batch": "not a batch"})
        metrics = str(billing.make_url("/metrics"))

        async def handled() -> bool:
            """billing read both copies and the foreign entry"""
            outcomes = collections.Counter(
                {
                    outcome: await sample(
                        billing.session, metrics, "billing_usage_batches_total", outcome=outcome
                    )
                    for outcome in ("applied", "duplicate", "malformed")
                }
            )
            return outcomes == collections.Counter(applied=1, duplicate=1, malformed=1)

        await eventually(handled, within=20, interval=0.1)
        assert await redis.get(contracts.usage_ack_key(batch.batch_id)) == b"1"
        assert await redis.xlen(billing_settings.usage_stream) == 0
    finally:
        await redis.aclose()
    assert (await usage_of(billing, tenant))["api_calls"] == 7


async def test_usage_needs_the_billing_read_scope_and_a_valid_period(billing: Client) -> None:
    tenant = uuid.uuid4()
    response = await billing.get(
        "/v1/billing/usage", headers=caller(tenant, (contracts.ORDERS_READ,))
    )
    assert response.status == 403
    assert response.content_type == problems.CONTENT_TYPE
    response = await billing.get("/v1/billing/usage?period=2026-13", headers=caller(tenant))
    assert response.status == 422
    assert response.content_type == problems.CONTENT_TYPE
    response = await billing.get("/v1/billing/usage?period=2020-01", headers=caller(tenant))
    assert response.status == 200
    body = await response.json()
    assert body["period_end"] == "2020-02-01"
    assert body["usage"] == {"api_calls": 0, "orders_placed": 0, "searches": 0}
