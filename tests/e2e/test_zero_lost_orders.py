"""Zero lost orders: under a steady order load, RabbitMQ is stopped for 20 s and restarted; every
accepted order (2xx) ends fulfilled exactly once, counted from the databases and S3, not logs.

The whole pipeline runs as real processes behind the gateway (as in test_order_pipeline). The
orders service must keep accepting while the broker is down (its outbox holds the events), and
every consumer must come back when the broker does.
"""

from __future__ import annotations

import asyncio
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from prometheus_client.parser import text_string_to_metric_families

from meridian.localplatform import net, pipeline, platform, rabbitmq_server
from meridian.localplatform.processes import Supervisor
from tests import tenants
from tests.e2e.steady_orders import assert_fulfilled_exactly_once, fetch, under_fault
from tests.e2e.test_order_pipeline import call

RATE_PER_S = 10
LOAD_S = 45.0
OUTAGE_AT_S = 10.0
OUTAGE_S = 20.0
DRAIN_WITHIN_S = 120.0


@pytest.fixture(scope="module")
def order_pipeline(local_platform: platform.PlatformState) -> Iterator[pipeline.Pipeline]:
    run_dir = Path(local_platform.run_dir) / "e2e-zero-lost"
    supervisor = Supervisor(run_dir)
    try:
        yield pipeline.start(local_platform, supervisor, run_dir)
    finally:
        supervisor.stop_all()


def restart_rabbitmq(state: platform.PlatformState) -> None:
    run_dir = Path(state.run_dir)
    rabbitmq_server.start(Supervisor(run_dir), run_dir / "rabbitmq")


class Outage(NamedTuple):
    held: int  # this tenant's events still in the orders outbox just before the broker came back
    held_for: float  # seconds the oldest of them had waited by then
    gauges: dict[str, float]  # what orders' /metrics said of its outbox then
    back_at: float  # time.monotonic() when RabbitMQ was ready again


def outbox_gauges(orders_url: str) -> dict[str, float]:
    """The outbox gauges on-call would read off the orders service's /metrics."""
    with urllib.request.urlopen(f"{orders_url}/metrics", timeout=10) as response:
        families = text_string_to_metric_families(response.read().decode())
        return {
            family.name: family.samples[0].value
            for family in families
            if family.name in ("outbox_pending", "outbox_oldest_pending_seconds")
        }


async def outage(
    state: platform.PlatformState, orders_url: str, tenant_id: uuid.UUID, down: asyncio.Event
) -> Outage:
    """Stop the platform's RabbitMQ at OUTAGE_AT_S for OUTAGE_S; returns when it is back up.
    What it held is counted for this test's tenant only: the orders database is shared, and rows
    another test left unsent must not make this outage look as if it held something."""
    await asyncio.sleep(OUTAGE_AT_S)
    supervisor = Supervisor(Path(state.run_dir))
    try:
        down.set()
        await asyncio.to_thread(supervisor.stop, "rabbitmq")
        assert not net.tcp_open(state.rabbitmq_info.amqp_port), "RabbitMQ still listens"
        await asyncio.sleep(OUTAGE_S)
        (unsent,) = await fetch(
            state.postgres_info.dsn("meridian_orders"),
            "SELECT count(*) AS n,"
            " coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest"
            " FROM outbox WHERE sent_at IS NULL AND payload->>'tenant_id' = $1",
            str(tenant_id),
        )
        gauges = await asyncio.to_thread(outbox_gauges, orders_url)
    finally:
        await asyncio.to_thread(restart_rabbitmq, state)
        down.clear()
    return Outage(unsent["n"], unsent["oldest"], gauges, time.monotonic())


@pytest.mark.timeout(480)  # platform start-up, 45 s of load, up to 120 s of draining
async def test_no_accepted_order_is_lost_or_doubled_when_rabbitmq_stops_for_20_s(
    local_platform: platform.PlatformState, order_pipeline: pipeline.Pipeline, tmp_path: Path
) -> None:
    customer = await tenants.customer(local_platform, order_pipeline, tmp_path, prefix="z")
    gateway = order_pipeline.gateway_url
    sku = pipeline.DEMO_SKUS[0]
    _, before = call("GET", f"{gateway}/v1/inventory/stock/{sku}", **customer.auth)

    load, broken = await under_fault(
        gateway,
        customer.auth,
        sku,
        rate_per_s=RATE_PER_S,
        seconds=LOAD_S,
        fault=lambda down: outage(
            local_platform, order_pipeline.urls["orders"], customer.tenant_id, down
        ),
    )
    accepted = set(load.accepted)
    print(
        f"\nzero-lost: {len(load.accepted)} accepted, refused {dict(load.refused)}"
        f" (during the outage {dict(load.refused_during_fault)}),"
        f" {broken.held} of this tenant's events held in the orders outbox, the oldest"
        f" {broken.held_for:.1f} s (its /metrics: {broken.gauges})"
    )
    assert broken.held > 0, "the outage held none of this tenant's events: it tested nothing"
    # Held through the outage, not merely caught between two relay passes.
    assert broken.held_for > OUTAGE_S / 2, f"held only {broken.held_for:.1f} s"
    # Housekeeping sweeps every 15 s, so it measured the backlog at least once in the outage.
    assert broken.gauges["outbox_pending"] > 0, broken.gauges
    assert broken.gauges["outbox_oldest_pending_seconds"] > 1, broken.gauges
    assert len(accepted) == len(load.accepted), "the same order id was accepted twice"
    assert len(accepted) >= 0.95 * LOAD_S * RATE_PER_S, f"too few accepted: {load}"

    await assert_fulfilled_exactly_once(
        local_platform, customer, gateway, sku, before, accepted, within=DRAIN_WITHIN_S
    )
    print(
        f"zero-lost: all fulfilled {time.monotonic() - broken.back_at:.1f} s after RabbitMQ was back"
    )
