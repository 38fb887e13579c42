"""Zero lost orders: under a steady order load, RabbitMQ is stopped for 20 s and restarted; every
accepted order (2xx) ends fulfilled exactly once, counted from the databases and S3, not logs.

The whole pipeline runs as real processes behind the gateway (as in test_order_pipeline). The
orders service must keep accepting while the broker is down (its outbox holds the events), and
every consumer must come back when the broker does.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import asyncpg
import pytest

from meridian.localplatform import net, pipeline, platform, rabbitmq_server
from meridian.localplatform.processes import Supervisor
from tests import tenants
from tests.e2e.test_order_pipeline import call
from tests.waiting import eventually

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


@dataclass
class Load:
    """What the gateway answered: accepted order ids, and every other status (or error) seen."""

    accepted: list[str] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    refused_during_outage: Counter[str] = field(default_factory=Counter)


async def order_steadily(
    session: aiohttp.ClientSession, url: str, sku: str, outage: asyncio.Event, load: Load
) -> None:
    """One order (1 unit, its own Idempotency-Key) every 1/RATE_PER_S s for LOAD_S s."""

    async def order() -> None:
        during_outage = outage.is_set()
        try:
            async with session.post(
                url,
                json={"lines": [{"sku": sku, "quantity": 1}]},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            ) as response:
                body = await response.json(content_type=None)
                if 200 <= response.status < 300:
                    load.accepted.append(body["id"])
                    return
                outcome = str(response.status)
        except (aiohttp.ClientError, TimeoutError) as error:
            outcome = type(error).__name__
        load.refused[outcome] += 1
        if during_outage:
            load.refused_during_outage[outcome] += 1

    loop = asyncio.get_running_loop()
    start = loop.time()
    sent: list[asyncio.Task[None]] = []
    for n in range(int(LOAD_S * RATE_PER_S)):
        await asyncio.sleep(max(0.0, start + n / RATE_PER_S - loop.time()))
        sent.append(asyncio.create_task(order()))
    await asyncio.gather(*sent)


def restart_rabbitmq(state: platform.PlatformState) -> None:
    run_dir = Path(state.run_dir)
    rabbitmq_server.start(Supervisor(run_dir), run_dir / "rabbitmq")


class Outage(NamedTuple):
    held: int  # events still in the orders outbox just before the broker came back
    back_at: float  # time.monotonic() when RabbitMQ was ready again


async def outage(state: platform.PlatformState, down: asyncio.Event) -> Outage:
    """Stop the platform's RabbitMQ at OUTAGE_AT_S for OUTAGE_S; returns when it is back up."""
    await asyncio.sleep(OUTAGE_AT_S)
    supervisor = Supervisor(Path(state.run_dir))
    try:
        down.set()
        await asyncio.to_thread(supervisor.stop, "rabbitmq")
        assert not net.tcp_open(state.rabbitmq_info.amqp_port), "RabbitMQ still listens"
        await asyncio.sleep(OUTAGE_S)
        (unsent,) = await fetch(
            state.postgres_info.dsn("meridian_orders"),
            "SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL",
        )
    finally:
        await asyncio.to_thread(restart_rabbitmq, state)
        down.clear()
    return Outage(unsent["n"], time.monotonic())


async def fetch(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn)
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


@pytest.mark.timeout(480)  # platform start-up, 45 s of load, up to 120 s of draining
async def test_no_accepted_order_is_lost_or_doubled_when_rabbitmq_stops_for_20_s(
    local_platform: platform.PlatformState, order_pipeline: pipeline.Pipeline, tmp_path: Path
) -> None:
    auth = (await tenants.customer(local_platform, order_pipeline, tmp_path, prefix="z")).auth
    gateway = order_pipeline.gateway_url
    sku = pipeline.DEMO_SKUS[0]
    _, before = call("GET", f"{gateway}/v1/inventory/stock/{sku}", **auth)

    load, down = Load(), asyncio.Event()
    async with aiohttp.ClientSession(
        headers=auth, timeout=aiohttp.ClientTimeout(total=30)
    ) as session:
        broker = asyncio.create_task(outage(local_platform, down))
        try:
            await order_steadily(session, f"{gateway}/v1/orders", sku, down, load)
        finally:
            broken = await broker  # restarts RabbitMQ even when the load fails
    accepted = set(load.accepted)
    print(
        f"\nzero-lost: {len(load.accepted)} accepted, refused {dict(load.refused)}"
        f" (during the outage {dict(load.refused_during_outage)}),"
        f" {broken.held} events held in the orders outbox"
    )
    assert broken.held > 0, "the outage held no events back: it tested nothing"
    assert len(accepted) == len(load.accepted), "the same order id was accepted twice"
    assert len(accepted) >= 0.95 * LOAD_S * RATE_PER_S, f"too few accepted: {load}"

    orders_dsn = local_platform.postgres_info.dsn("meridian_orders")

    async def states() -> dict[str, int]:
        rows = await fetch(
            orders_dsn,
            "SELECT state, count(*) AS n FROM orders WHERE id = ANY($1::uuid[]) GROUP BY state",
            list(accepted),
        )
        return {row["state"]: row["n"] for row in rows}

    async def all_fulfilled() -> bool:
        """every accepted order reaches `fulfilled` in meridian_orders"""
        return await states() == {"fulfilled": len(accepted)}

    try:
        await eventually(all_fulfilled, within=DRAIN_WITHIN_S, interval=2)
    except AssertionError:
        raise AssertionError(f"accepted orders by state: {await states()}") from None
    print(
        f"zero-lost: all fulfilled {time.monotonic() - broken.back_at:.1f} s after RabbitMQ was back"
    )

    (tenant,) = await fetch(
        orders_dsn,
        "SELECT DISTINCT tenant_id FROM orders WHERE id = ANY($1::uuid[])",
        list(accepted),
    )
    tenant_id = tenant["tenant_id"]
    shipments = await fetch(
        local_platform.postgres_info.dsn("meridian_fulfillment"),
        "SELECT id, order_id, label_key FROM shipments WHERE tenant_id = $1",
        tenant_id,
    )
    per_order = Counter(str(row["order_id"]) for row in shipments)
    assert {o for o, n in per_order.items() if n > 1} == set(), "orders shipped more than once"
    assert set(per_order) == accepted, (
        f"shipments without an accepted order: {set(per_order) - accepted},"
        f" accepted orders without a shipment: {accepted - set(per_order)}"
    )

    pages = tenants.s3(local_platform).get_paginator("list_objects_v2")
    labels = [
        item["Key"]
        for page in pages.paginate(Bucket="meridian-fulfillment", Prefix=f"labels/{tenant_id}/")
        for item in page.get("Contents", [])
    ]
    labels_per_order = Counter(key.split("/")[2] for key in labels)
    assert labels_per_order == Counter(per_order), "not exactly one label per shipped order"
    assert set(labels) == {row["label_key"] for row in shipments}

    async def decremented() -> bool:
        """on-hand stock goes down by exactly the accepted orders, and nothing stays reserved"""
        _, after = call("GET", f"{gateway}/v1/inventory/stock/{sku}", **auth)
        return bool(
            after["on_hand"] == before["on_hand"] - len(accepted)
            and after["reserved"] == before["reserved"]
        )

    try:
        await eventually(decremented, within=30)
    except AssertionError:
        _, after = call("GET", f"{gateway}/v1/inventory/stock/{sku}", **auth)
        raise AssertionError(
            f"stock before {before}, after {after}, {len(accepted)} accepted"
        ) from None
