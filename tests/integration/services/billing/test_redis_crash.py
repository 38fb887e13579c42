"""The platform's Redis SIGKILLed and restarted in the middle of steady traffic from three
tenants: billing's totals still equal the requests the gateway counted, to the unit.

Billing is stopped (a rollout, say) just before the crash, so the stream holds batches no one has
read when Redis dies: exactly what a Redis-only counter, or a gateway that forgot a batch once it
was in Redis, would lose."""

from __future__ import annotations

import asyncio
import collections
import random
import uuid
from pathlib import Path

import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from meridian.localplatform import platform, redis_server
from meridian.localplatform.processes import Supervisor
from meridian.services.billing import app as billing_app
from meridian.services.billing.settings import Settings as BillingSettings
from meridian.services.gateway import metering
from tests.integration.services.billing.conftest import MakeGateway, bearer, usage_of
from tests.waiting import eventually, sample

REQUESTS = (
    ("POST", "/v1/orders", ("api_calls", "orders_placed")),
    ("GET", "/v1/orders/1", ("api_calls",)),
    ("GET", "/v1/search/products?q=tent", ("api_calls", "searches")),
)


async def test_a_redis_sigkill_mid_traffic_loses_no_usage_and_counts_nothing_twice(
    billing_settings: BillingSettings,
    make_gateway: MakeGateway,
    local_platform: platform.PlatformState,
) -> None:
    billing = TestClient(TestServer(billing_app.create_app(billing_settings)))
    await billing.start_server()
    gateway = await make_gateway()
    tenants = [uuid.uuid4() for _ in range(3)]
    expected = {tenant: collections.Counter[str]() for tenant in tenants}
    stop = asyncio.Event()

    async def traffic(tenant: uuid.UUID) -> None:
        headers = bearer(tenant)
        while not stop.is_set():
            method, path, products = random.choice(REQUESTS)
            response = await gateway.request(method, path, headers=headers, json={})
            if response.status < 300:  # answered by the upstream: the gateway counted it
                expected[tenant].update(products)
            await asyncio.sleep(0.002)

    workers = [asyncio.create_task(traffic(tenant)) for tenant in tenants]
    metrics = str(billing.make_url("/metrics"))

    async def flowing() -> bool:
        """billing applied usage batches before the crash"""
        applied = await sample(
            billing.session, metrics, "billing_usage_batches_total", outcome="applied"
        )
        return applied >= 3

    await eventually(flowing, within=30, interval=0.1)
    await billing.close()  # from here the gateway's batches wait in the stream, unread
    supervisor = Supervisor(Path(local_platform.run_dir))
    gateway_metrics = str(gateway.make_url("/metrics"))

    async def unread() -> bool:
        """with billing down, batches wait in the stream, unread"""
        redis = aioredis.Redis.from_url(local_platform.redis_url)
        try:
            return await redis.xlen(billing_settings.usage_stream) >= 3
        finally:
            await redis.aclose()

    await eventually(unread, within=30, interval=0.1)
    await asyncio.to_thread(supervisor.kill, "redis")
    await asyncio.to_thread(redis_server.start, supervisor, Path(local_platform.run_dir) / "redis")
    billing = TestClient(TestServer(billing_app.create_app(billing_settings)))
    await billing.start_server()
    metrics = str(billing.make_url("/metrics"))

    async def recovered() -> bool:
        """the new billing applied usage batches after Redis came back"""
        applied = await sample(
            billing.session, metrics, "billing_usage_batches_total", outcome="applied"
        )
        return applied >= 3

    await eventually(recovered, within=30, interval=0.1)
    stop.set()
    await asyncio.gather(*workers)
    assert all(sum(counts.values()) > 0 for counts in expected.values())

    async def acknowledged() -> bool:
        """the gateway holds no batch billing has not acknowledged"""
        pending = await sample(
            gateway.session, gateway_metrics, "meridian_gateway_usage_pending_batches"
        )
        return pending == 0 and not gateway.app[metering.METER].counts

    await eventually(acknowledged, within=60, interval=0.2)
    for tenant in tenants:
        metered = await usage_of(billing, tenant)
        wanted = {product: expected[tenant][product] for product in metered}
        assert metered == wanted, tenant
    counted = sum(
        [
            await sample(
                gateway.session, gateway_metrics, "meridian_gateway_usage_counted_total", product=p
            )
            for p in ("api_calls", "orders_placed", "searches")
        ]
    )
    assert counted == sum(sum(c.values()) for c in expected.values())
    await billing.close()
