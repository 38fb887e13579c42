"""Crashes mid-order: under a steady order load, orders, inventory and fulfillment are each killed
with SIGKILL (as the OOM killer would: no drain, no rollback sent, transactions cut mid-way) and
started again; every accepted order still ends fulfilled exactly once, and nothing is stranded.

What makes this hold, and so what this test would catch breaking: every step commits its effect
together with its bookkeeping (the order with its Idempotency-Key, events with their change in the
outbox, consumers' dedupe rows with their effect), a reservation is idempotent per order, the
orders sweeper re-drives what a crash left pending, and unacknowledged messages are redelivered.
An order the client never heard back about (its request was cut by the crash) may exist: it too
must settle, fulfilled or canceled, with its stock accounted for.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from meridian.localplatform import pipeline, platform
from meridian.localplatform.processes import Supervisor
from tests import tenants
from tests.e2e.steady_orders import assert_fulfilled_exactly_once, under_fault
from tests.e2e.test_order_pipeline import call

RATE_PER_S = 10
LOAD_S = 36.0
CRASHES = (("svc-orders", 5.0), ("svc-inventory", 15.0), ("svc-fulfillment", 25.0))
"""Which service is killed, at how many seconds into the load."""
DOWN_S = 2.0
DRAIN_WITHIN_S = 120.0


@pytest.fixture(scope="module")
def supervised(
    local_platform: platform.PlatformState,
) -> Iterator[tuple[pipeline.Pipeline, Supervisor, Path]]:
    run_dir = Path(local_platform.run_dir) / "e2e-crashes"
    supervisor = Supervisor(run_dir)
    try:
        yield pipeline.start(local_platform, supervisor, run_dir), supervisor, run_dir
    finally:
        supervisor.stop_all()


def running_pid(supervisor: Supervisor, name: str) -> int | None:
    """The pid the supervisor now records for `name`, if it runs."""
    pids = {record.name: record.pid for record in supervisor.records() if record.alive}
    return pids.get(name)


async def crash_each(
    state: platform.PlatformState, supervisor: Supervisor, run_dir: Path, down: asyncio.Event
) -> list[tuple[str, int, int | None]]:
    """Kill each of CRASHES at its time, start it again DOWN_S later; returns, for each, the
    name, the pid killed and the pid running after the restart."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    crashed = []
    for name, at in CRASHES:
        await asyncio.sleep(max(0.0, start + at - loop.time()))
        down.set()
        killed: int | None = None
        try:
            killed = await asyncio.to_thread(supervisor.kill, name)
            await asyncio.sleep(DOWN_S)
        finally:
            # Starts only what is not running, and waits until every service is ready.
            await asyncio.to_thread(pipeline.start, state, supervisor, run_dir)
            down.clear()
        crashed.append((name, killed, running_pid(supervisor, name)))
    return crashed


@pytest.mark.timeout(480)  # 36 s of load, restarts, up to 120 s of draining
async def test_accepted_orders_survive_services_killed_mid_flight(
    local_platform: platform.PlatformState,
    supervised: tuple[pipeline.Pipeline, Supervisor, Path],
    tmp_path: Path,
) -> None:
    order_pipeline, supervisor, run_dir = supervised
    customer = await tenants.customer(local_platform, order_pipeline, tmp_path, prefix="k")
    gateway = order_pipeline.gateway_url
    sku = pipeline.DEMO_SKUS[1]
    _, before = call("GET", f"{gateway}/v1/inventory/stock/{sku}", **customer.auth)

    load, crashed = await under_fault(
        gateway,
        customer.auth,
        sku,
        rate_per_s=RATE_PER_S,
        seconds=LOAD_S,
        fault=lambda down: crash_each(local_platform, supervisor, run_dir, down),
    )
    accepted = set(load.accepted)
    print(
        f"\ncrashes: (name, pid killed, pid after) {crashed}; {len(accepted)} accepted,"
        f" refused {dict(load.refused)} (while a service was down {dict(load.refused_during_fault)})"
    )
    assert [name for name, _, _ in crashed] == [name for name, _ in CRASHES]
    for name, killed, restarted in crashed:
        assert restarted is not None, f"{name} is not running after its restart"
        assert restarted != killed, f"{name} still runs as pid {killed}: the crash hit nothing"
    assert len(accepted) == len(load.accepted), "the same order id was accepted twice"
    assert sum(load.refused_during_fault.values()) > 0, (
        "no request failed while orders was down: the crash hit nothing in flight"
    )
    # Orders is down DOWN_S (and restarting) of LOAD_S; the other two crashes refuse nothing.
    assert len(accepted) >= 0.7 * LOAD_S * RATE_PER_S, f"too few accepted: {load}"

    await assert_fulfilled_exactly_once(
        local_platform, customer, gateway, sku, before, accepted, within=DRAIN_WITHIN_S
    )
