"""Billing's costs, each beside a baseline measured in the same run (not part of `make test`; no
timed assertions, the machine is shared):

- metering: the gateway's throughput with metering on vs off (two gateways, same settings but
  `metering`, same upstream, rounds of closed-loop load in ABBA order), and metering's cost per
  request as the difference in this process's CPU time per request (neighbours' load on the
  shared machine moves throughput, not that);
- the Stripe webhook handler: p50/p99 of signed events posted to it (verify, store, answer)
  beside its own `/healthz` under the same load;
- invoices for 400 tenants: generating them (the period closer's pass) and reporting them to
  stripe-mock (items + invoice per tenant, idempotency keys), beside bare stripe-mock round trips.

Everything runs in this process (the load generator too), so the figures include its share of
the two cores; the baselines carry the same overhead, which is why they are measured here.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from meridian.core import migrations, registry
from meridian.core.registry import tenants
from meridian.core.registry.ratelimits import RateLimit
from meridian.core.runtime import db
from meridian.localplatform import platform, stripe_mock
from meridian.services.billing import app as billing_app
from meridian.services.billing import closing, invoicing, store
from meridian.services.billing import registry as billing_registry
from meridian.services.billing.settings import SETTINGS
from meridian.services.billing.settings import Settings as BillingSettings
from meridian.services.gateway import app as gateway_app
from meridian.services.gateway.settings import Settings as GatewaySettings
from meridian.services.kit import contracts
from meridian.services.stripe_webhooks import app as webhooks_app
from meridian.services.stripe_webhooks import signature
from meridian.services.stripe_webhooks.settings import Settings as WebhookSettings
from tests import issuer
from tests.bench.figures import _row

Client = TestClient[Any, Any]
CONCURRENCY = 16
ROUNDS = 4
ROUND_S = 3.0
WEBHOOK_EVENTS = 1500
TENANTS = 400
LATE = datetime.datetime(2026, 8, 15, tzinfo=datetime.UTC)  # a closed period's usage


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _closed_loop(
    request: Callable[[], Awaitable[int]], seconds: float
) -> tuple[int, list[float]]:
    """CONCURRENCY workers sending back to back for `seconds`: (answers, latencies in ms)."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            status = await request()
            assert status < 300, status
            latencies.append((time.perf_counter() - started) * 1000)

    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return len(latencies), latencies


async def _ok(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"path": request.path})


async def test_gateway_throughput_with_metering_on_and_off(
    local_platform: platform.PlatformState,
) -> None:
    upstream_app = web.Application()
    upstream_app.router.add_route("*", "/{path:.*}", _ok)
    stream = f"bench:{uuid.uuid4().hex[:8]}:usage"
    async with TestServer(upstream_app) as upstream:
        url = str(upstream.make_url("")).rstrip("/")

        def gateway(metering: bool) -> Client:
            return TestClient(TestServer(gateway_app.create_app(GatewaySettings(
                routes={"/v1/orders": url}, jwks_url=issuer.issuers(issuer.TESTS)[issuer.TESTS],
                issuer=issuer.TESTS, redis_url=local_platform.redis_url, port=0,
                identity_signing_key_file=issuer.key_file("meridian-gateway"),
                default_rate_limit_rps=1_000_000, default_rate_limit_burst=1_000_000,
                usage_stream=stream, metering=metering, log_level="WARNING",
            ))))  # fmt: skip

        headers = {"Authorization": f"Bearer {issuer.mint(uuid.uuid4(), ('orders:write',))}"}
        async with gateway(True) as metered, gateway(False) as bare:

            def sender(client: Client) -> Callable[[], Awaitable[int]]:
                async def send() -> int:
                    async with client.get("/v1/orders/1", headers=headers) as answer:
                        await answer.read()
                        return answer.status

                return send

            await _closed_loop(sender(bare), 1.0)  # warm-up: JWKS, keep-alive
            await _closed_loop(sender(metered), 1.0)
            done = {True: 0, False: 0}
            cpu = {True: 0.0, False: 0.0}
            order = [(False, bare), (True, metered)]
            for _ in range(ROUNDS):  # ABBA...: neither side always runs second
                for metering, client in order:
                    started = time.process_time()
                    done[metering] += (await _closed_loop(sender(client), ROUND_S))[0]
                    cpu[metering] += time.process_time() - started
                order.reverse()
    seconds = ROUNDS * ROUND_S
    on, off = done[True] / seconds, done[False] / seconds
    cpu_on, cpu_off = cpu[True] / done[True] * 1e6, cpu[False] / done[False] * 1e6
    print(f"\n== gateway throughput, metering on vs off ({CONCURRENCY} closed-loop clients,"
          f" {ROUNDS} x {ROUND_S:.0f} s each, ABBA) ==")  # fmt: skip
    _row("requests/s with metering (without)", f"{on:.0f}", f"({off:.0f} without)")
    # Throughput on a shared machine swings with the neighbours' load (an A/A run of two
    # unmetered gateways differed by a third); this process's CPU time per request much less
    # (the same A/A run: 24 us apart, 2 %).
    _row(
        "CPU per request, this process (without)", f"{cpu_on:.0f} us", f"({cpu_off:.0f} us without)"
    )
    _row("metering's cost per request (CPU difference)", f"{cpu_on - cpu_off:.1f} us",
         f"({(cpu_on - cpu_off) / cpu_off * 100:.1f} %)")  # fmt: skip


async def test_webhook_handling_latency(
    local_platform: platform.PlatformState, tmp_path: Path
) -> None:
    secret = "whsec_bench_" + uuid.uuid4().hex
    (tmp_path / "secret").write_text(secret)
    exchange = f"bench-{uuid.uuid4().hex[:8]}.stripe.events"
    settings = WebhookSettings(
        pg_dsn=local_platform.postgres_info.dsn("meridian_stripe_webhooks"),
        amqp_url=local_platform.rabbitmq_info.amqp_url,
        signing_secret_file=tmp_path / "secret",
        events_exchange=exchange,
        log_level="WARNING",
    )
    async with TestClient(TestServer(webhooks_app.create_app(settings))) as client:

        async def post_event() -> int:
            body = json.dumps({
                "id": f"evt_{uuid.uuid4().hex}", "object": "event", "api_version": "2024-06-20",
                "created": int(time.time()), "livemode": False, "type": "invoice.paid",
                "data": {"object": {"id": f"in_{uuid.uuid4().hex[:14]}", "object": "invoice",
                                    "customer": "cus_bench"}},
            }).encode()  # fmt: skip
            headers = {"Content-Type": "application/json",
                       signature.HEADER: signature.header(body, [secret], int(time.time()))}  # fmt: skip
            async with client.post("/v1/stripe/webhooks", data=body, headers=headers) as answer:
                await answer.read()
                return answer.status

        async def healthz() -> int:
            async with client.get("/healthz") as answer:
                await answer.read()
                return answer.status

        async def fixed(request: Callable[[], Awaitable[int]], count: int) -> list[float]:
            """`count` requests over CONCURRENCY workers; latencies in ms."""
            latencies: list[float] = []
            left = iter(range(count))

            async def worker() -> None:
                for _ in left:
                    started = time.perf_counter()
                    assert await request() < 300
                    latencies.append((time.perf_counter() - started) * 1000)

            await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
            return latencies

        await fixed(post_event, 50)  # warm-up
        base = await fixed(healthz, WEBHOOK_EVENTS)
        started = time.perf_counter()
        events = await fixed(post_event, WEBHOOK_EVENTS)
        elapsed = time.perf_counter() - started
    connection = await aio_pika.connect(local_platform.rabbitmq_info.amqp_url)
    async with connection:
        await (await connection.channel()).exchange_delete(exchange)
    print(f"\n== Stripe webhook handling ({WEBHOOK_EVENTS} signed invoice.paid events,"
          f" {CONCURRENCY} concurrent senders; baseline: the handler's /healthz) ==")  # fmt: skip
    for q, label in ((0.5, "p50"), (0.99, "p99")):
        _row(f"{label} per event (healthz)", f"{_percentile(events, q):.2f} ms",
             f"({_percentile(base, q):.2f} ms healthz)")  # fmt: skip
    _row("events/s", f"{WEBHOOK_EVENTS / elapsed:.0f}")


async def _register(dsn: str, count: int) -> list[uuid.UUID]:
    await migrations.upgrade(dsn, registry.MIGRATIONS)
    connection = await asyncpg.connect(dsn)
    made = []
    try:
        for _ in range(count):
            name = f"bb{uuid.uuid4().hex[:10]}"
            record = tenants.TenantRecord(name=name, tier="starter", region="us-east-1",
                                          display_name="", state="active", limits={},
                                          rate_limit=RateLimit(1000, 1000))  # fmt: skip
            tenant_id = await tenants.upsert(connection, record)
            await tenants.record_billing(connection, tenant_id, customer_id=f"cus_{name}")
            made.append(tenant_id)
    finally:
        await connection.close()
    return made


@pytest_asyncio.fixture
async def billing(local_platform: platform.PlatformState) -> AsyncIterator[Client]:
    suffix = uuid.uuid4().hex[:8]
    settings = BillingSettings(
        pg_dsn=local_platform.postgres_info.dsn("meridian_billing"),
        redis_url=local_platform.redis_url,
        usage_stream=f"bench:{suffix}:usage",
        identity_issuers=issuer.issuers(issuer.TESTS),
        platform_dsn=local_platform.postgres_info.dsn("meridian_platform"),
        stripe_api_base=local_platform.stripe_url,
        stripe_api_key=stripe_mock.API_KEY,
        invoice_interval_s=0.2,
        invoice_batch=100,
        amqp_url=local_platform.rabbitmq_info.amqp_url,
        stripe_exchange=f"bench-{suffix}.stripe.events",
        stripe_queue=f"bench{suffix}.billing.stripe",
        kubeconfig=local_platform.kubeconfig,
        close_after_s=10 * 366 * 24 * 3600.0,  # the app's closer stays out; the bench closes
        close_interval_s=3600.0,
        log_level="WARNING",
    )
    async with TestClient(TestServer(billing_app.create_app(settings))) as client:
        yield client


@pytest.mark.timeout(600)
async def test_invoice_generation_for_400_tenants(
    billing: Client, local_platform: platform.PlatformState
) -> None:
    app = billing.app
    assert app is not None
    settings: BillingSettings = app[SETTINGS]
    pool, reporter = app[db.POOL], app[invoicing.REPORTER]
    tenant_ids = await _register(local_platform.postgres_info.dsn("meridian_platform"), TENANTS)
    batch = contracts.UsageBatch(
        batch_id=uuid.uuid4(), source="bench", sealed_at=LATE,
        counts=[contracts.UsageCount(tenant_id=tenant, product=product, quantity=index + 1)
                for index, tenant in enumerate(tenant_ids) for product in contracts.PRODUCTS],
    )  # fmt: skip
    async with store.transaction(pool, settings.db_role) as connection:
        assert await store.apply_batch(connection, batch)
    async with store.transaction(pool, settings.db_role) as connection:
        reported_before = (await store.queue_depth(connection)).get("reported", (0, 0.0))[0]

    closer = settings.model_copy(update={"close_after_s": 0.0})
    started = time.perf_counter()
    created = await closing.close_once(pool, app[billing_registry.POOL], closer)
    generated_s = time.perf_counter() - started
    assert created >= TENANTS
    reporter.wake.set()
    while True:
        async with store.transaction(pool, settings.db_role) as connection:
            depth = await store.queue_depth(connection)
        if depth.get("reported", (0, 0.0))[0] - reported_before >= created:
            break
        assert not depth.get("failed"), depth
        await asyncio.sleep(0.2)
    reported_s = time.perf_counter() - started - generated_s

    calls = TENANTS * (len(contracts.PRODUCTS) + 1)
    plain = reporter.client  # the reporter's own client: same session, same timeouts
    started = time.perf_counter()
    for index in range(calls):
        await plain.v1.invoice_items.create_async(
            params={"customer": "cus_bench", "currency": "usd", "quantity": 1,
                    "unit_amount_decimal": "1"},
            options={"idempotency_key": f"bench-{uuid.uuid4()}-{index}"},
        )  # fmt: skip
    round_trips_s = time.perf_counter() - started
    print(f"\n== invoices for {TENANTS} tenants (3 products each; stripe-mock; baseline:"
          f" {calls} bare SDK calls to stripe-mock, one after another) ==")  # fmt: skip
    _row("generation (period closer, one pass)", f"{generated_s:.2f} s",
         f"({generated_s / TENANTS * 1000:.1f} ms per tenant)")  # fmt: skip
    _row(f"reporting to Stripe ({calls} calls; bare calls)", f"{reported_s:.2f} s",
         f"({round_trips_s:.2f} s bare)")  # fmt: skip
    _row(
        "generation + reporting per tenant", f"{(generated_s + reported_s) / TENANTS * 1000:.1f} ms"
    )
