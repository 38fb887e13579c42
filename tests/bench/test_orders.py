"""Order creation at rising load: through the gateway, and straight to orders, in the same run.

Not part of `make test`. The whole pipeline runs as local processes (auth, inventory, orders,
fulfillment, the gateway, the carrier fake) on the local platform's PostgreSQL, Redis and RabbitMQ;
the load generator is this process. At each offered rate, orders (1 unit of one of 200 SKUs, in
turn; each its own Idempotency-Key) leave open-loop, on a schedule that does not wait for answers,
alternately straight to orders (with the identity headers the gateway would set) and through the
gateway (with a bearer token): both paths share the same seconds and the same contention, so their
difference is the gateway's. A latency runs from the order's scheduled departure to its answer, so
a saturated client or server shows as latency, not as a lower offered rate. Printed per rate:
achieved throughput (201s per second, until the last answer), p50/p99 and errors of each path,
and the gateway-added p50/p99; a level fails the test when either path created no order or saw
any error other than load shedding (503). Goals: >= 500 orders/s with p99 < 100 ms;
gateway-added p99 < 15 ms.
Every process shares this machine's cores (fulfillment ships the orders meanwhile), so the figures
include that contention. After each run the pipeline drains (every order fulfilled or canceled), and
the CPU time every process used from the run's start to the end of the drain is charged to its
orders: ms of CPU per order, by process, this load generator included. Their sum against the
machine's cores is the ceiling printed beside it: the sustained rate this machine could reach at
that cost per order, which is what the 500/s goal has to be read against. The peers' share
(PostgreSQL, RabbitMQ, S3, Redis) gets its own ceiling: the rate this machine could not pass even
if every service of ours cost nothing.
"""

from __future__ import annotations

import asyncio
import functools
import os
import resource
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import aiohttp
import asyncpg
import pytest

from meridian.core.registry.ratelimits import RateLimit
from meridian.localplatform import pipeline, platform
from meridian.localplatform.processes import Supervisor
from tests import tenants
from tests.bench.figures import _row, cpu_seconds, histogram, quantile_bound

RATES = (25, 50, 100, 200, 500)
SECONDS = 10.0
STOCK = 1_000_000  # per SKU and warehouse: no level runs out
# A catalogue, not three hot rows: with only the demo SKUs every reservation waits on the row lock
# of the one before it (inventory's SELECT ... FOR UPDATE), which measures contention, not capacity.
SKUS = tuple(f"BENCH-{n:04d}" for n in range(200))
DRAIN_SECONDS = 600
OVERHEAD = "meridian_gateway_overhead_seconds"
PEERS = ("postgres", "rabbitmq", "s3", "redis")
"""The platform's own servers: what an order costs before any of our code runs."""


class Level(NamedTuple):
    throughput: float
    p50: float
    p99: float
    errors: Counter[str]


class Seeded(NamedTuple):
    state: platform.PlatformState
    run_dir: Path
    pipeline: pipeline.Pipeline
    tenant_id: uuid.UUID
    tenant: str
    email: str
    password: str


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Target(NamedTuple):
    url: str
    headers: dict[str, str]


async def _load(targets: Sequence[Target], rate: int, seconds: float) -> list[Level]:
    """Open loop: order i is due at start + i/rate and goes to target i mod len(targets);
    its latency counts from when it was due. One Level per target."""
    latencies: list[list[float]] = [[] for _ in targets]
    errors: list[Counter[str]] = [Counter() for _ in targets]
    connector = aiohttp.TCPConnector(limit=1000)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def one(i: int, due: float) -> None:
            which = i % len(targets)
            target = targets[which]
            body = {"lines": [{"sku": SKUS[i % len(SKUS)], "quantity": 1}]}
            headers = {**target.headers, "Idempotency-Key": str(uuid.uuid4())}
            try:
                async with session.post(target.url, json=body, headers=headers) as answer:
                    await answer.read()
                    status = str(answer.status)
            except (aiohttp.ClientError, TimeoutError) as error:
                status = type(error).__name__
            if status == "201":
                latencies[which].append((time.perf_counter() - due) * 1000)
            else:
                errors[which][status] += 1

        tasks = []
        start = time.perf_counter()
        for i in range(int(rate * seconds)):
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i, due)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    return [
        Level(
            len(latencies[n]) / elapsed,
            _percentile(latencies[n], 0.5),
            _percentile(latencies[n], 0.99),
            errors[n],
        )
        for n in range(len(targets))
    ]


@pytest.fixture
def seeded(local_platform: platform.PlatformState) -> Iterator[Seeded]:
    run_dir = Path(local_platform.run_dir) / "bench-orders"
    supervisor = Supervisor(run_dir)
    try:
        started = pipeline.start(local_platform, supervisor, run_dir)
        name = f"b{uuid.uuid4().hex[:8]}"
        tenant_id = asyncio.run(
            tenants.register(local_platform, name, rate_limit=RateLimit(100_000, 100_000))
        )
        email, password = pipeline.seed_demo(local_platform, started, run_dir, tenant=name)
        asyncio.run(
            _stock(started.gateway_url, tenants.login(started.gateway_url, name, email, password))
        )
        yield Seeded(local_platform, run_dir, started, tenant_id, name, email, password)
    finally:
        supervisor.stop_all()


async def _stock(gateway_url: str, token: str) -> None:
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        for sku in SKUS:
            for warehouse in pipeline.DEMO_WAREHOUSES:
                async with session.put(
                    f"{gateway_url}/v1/inventory/stock/{sku}",
                    json={"warehouse": warehouse, "on_hand": STOCK},
                ) as answer:
                    assert answer.status == 200, await answer.text()


async def _drained(dsn: str, tenant_id: uuid.UUID) -> int:
    """Waits until every order of the tenant is fulfilled or canceled; returns how many it has
    (read as the superuser: orders a client gave up on, a gateway 504, count too)."""
    connection = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + DRAIN_SECONDS
        while await connection.fetchval(
            "SELECT count(*) FROM orders WHERE tenant_id = $1 AND state IN ('pending', 'confirmed')",
            tenant_id,
        ):
            assert time.monotonic() < deadline, "the pipeline did not drain"
            await asyncio.sleep(0.5)
        count: int = await connection.fetchval(
            "SELECT count(*) FROM orders WHERE tenant_id = $1", tenant_id
        )
        return count
    finally:
        await connection.close()


def _own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _measured(seeded: Seeded, targets: Sequence[Target], rate: int) -> tuple[list[Level], str]:
    """One run and its drain; the CPU it cost, in ms per created order, by process (the load
    generator, this process, included); and the rate this machine's cores would sustain at that
    cost if nothing else ran: the ceiling any tuning of one process's code is measured against."""
    dsn = seeded.state.postgres_info.dsn("meridian_orders")
    existing = asyncio.run(_drained(dsn, seeded.tenant_id))
    before = cpu_seconds(seeded.state.run_dir, seeded.run_dir)
    before["load generator"] = _own_cpu_seconds()
    levels = asyncio.run(_load(targets, rate, SECONDS))
    after = {"load generator": _own_cpu_seconds()}  # before the drain's polling
    orders = max(1, asyncio.run(_drained(dsn, seeded.tenant_id)) - existing)
    after.update(cpu_seconds(seeded.state.run_dir, seeded.run_dir))
    spent = {name: 1000 * (after[name] - before.get(name, 0.0)) / orders for name in after}
    top = sorted(spent.items(), key=lambda item: -item[1])
    shown = ", ".join(f"{name.removeprefix('svc-')} {ms:.1f}" for name, ms in top[:9])
    total = sum(spent.values())
    cores = os.cpu_count() or 1
    peers = sum(ms for name, ms in spent.items() if name.startswith(PEERS))
    return levels, (
        f"{total:.1f} ms, ceiling {1000 * cores / total:.0f}/s on {cores} cores; the peers alone"
        f" {peers:.1f} ms, ceiling {1000 * cores / peers:.0f}/s ({shown})"
    )


SHED = "503"
"""The one refusal a level may see: a service shedding load beyond max_in_flight, by design."""


def _failed(label: str, rate: int, level: Level) -> str:
    """Why the level's work failed, or "" when it did not: a benchmark of orders that were never
    created measures nothing, so it fails (as the gateway bench does) rather than print."""
    broken = {kind: n for kind, n in level.errors.items() if kind != SHED}
    if level.throughput <= 0:
        return f"{rate}/s, {label}: no order was created ({_errors(level.errors)})"
    if broken:
        return f"{rate}/s, {label}: {_errors(Counter(broken))} besides load shedding"
    return ""


def _errors(errors: Counter[str]) -> str:
    if not errors:
        return "0 errors"
    kinds = ", ".join(f"{kind} x{n}" for kind, n in errors.most_common())
    return f"{sum(errors.values())} errors ({kinds})"


def _print(label: str, rate: int, level: Level) -> None:
    _row(
        f"{rate}/s offered, {label}: achieved, p50 / p99",
        f"{level.throughput:.0f}/s",
        f"p50 {level.p50:.1f} ms, p99 {level.p99:.1f} ms, {_errors(level.errors)}",
    )


@pytest.mark.timeout(1800)
def test_order_creation_at_rising_load(seeded: Seeded) -> None:
    urls = seeded.pipeline.urls
    direct_url, gateway_url = f"{urls['orders']}/v1/orders", f"{urls['gateway']}/v1/orders"
    print(
        f"\n== order creation ({SECONDS:.0f} s per level, open loop, half straight to orders and"
        f" half through the gateway, interleaved; {os.cpu_count()} cores shared by every process;"
        " goals: >= 500/s with p99 < 100 ms, gateway adds p99 < 15 ms) =="
    )
    for rate in RATES:
        # Access tokens live minutes: a fresh one per level, as a client would refresh.
        token = tenants.login(
            seeded.pipeline.gateway_url, seeded.tenant, seeded.email, seeded.password
        )
        targets = (
            Target(direct_url, tenants.identity_headers(seeded.state, seeded.tenant_id, token)),
            Target(gateway_url, {"Authorization": f"Bearer {token}"}),
        )
        if rate == RATES[0]:  # warm-up: JWKS, the tenant's limits, pools, keep-alive
            asyncio.run(_load(targets, 20, 2.0))
        overhead = functools.partial(
            histogram, f"{urls['gateway']}/metrics", OVERHEAD, route="/v1/orders"
        )
        before = overhead()
        (direct, through), cpu = _measured(seeded, targets, rate)
        own = overhead()
        _row(
            f"{rate}/s offered: achieved, both paths",
            f"{direct.throughput + through.throughput:.0f}/s",
        )
        _print("direct to orders", rate, direct)
        _print("through gateway", rate, through)
        _row(
            f"{rate}/s offered, gateway adds p50 / p99",
            f"{through.p50 - direct.p50:.1f} / {through.p99 - direct.p99:.1f} ms",
            "(two paths' difference, noisy under contention)",
        )
        _row(
            f"{rate}/s offered, gateway's own share p50 / p99",
            f"<= {1000 * quantile_bound(before, own, 0.5):g} / "
            f"{1000 * quantile_bound(before, own, 0.99):g} ms",
            f"(its {OVERHEAD} histogram: bucket bounds)",
        )
        _row(f"{rate}/s offered, CPU per order (all processes)", cpu)
        failures = [
            _failed(label, rate, level)
            for label, level in (("direct to orders", direct), ("through gateway", through))
        ]
        assert not any(failures), "; ".join(filter(None, failures))
