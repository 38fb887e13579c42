"""Steady order load through the gateway, and the end state it must reach, read from the
databases and S3 (never from logs): what the failure tests (a broker outage, crashed services)
assert once the pipeline has drained.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
import asyncpg

from meridian.localplatform import platform
from tests import tenants
from tests.e2e.test_order_pipeline import call
from tests.waiting import eventually

T = TypeVar("T")


@dataclass
class Load:
    """What the gateway answered: accepted order ids, and every other status (or error) seen."""

    accepted: list[str] = field(default_factory=list)
    refused: Counter[str] = field(default_factory=Counter)
    refused_during_fault: Counter[str] = field(default_factory=Counter)


async def order_steadily(
    session: aiohttp.ClientSession,
    url: str,
    sku: str,
    *,
    rate_per_s: float,
    seconds: float,
    fault: asyncio.Event,
    load: Load,
) -> None:
    """One order (1 unit, its own Idempotency-Key) every 1/rate_per_s s for `seconds`; answers
    that arrive while `fault` is set are counted apart."""

    async def order() -> None:
        during_fault = fault.is_set()
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
        if during_fault or fault.is_set():
            load.refused_during_fault[outcome] += 1

    loop = asyncio.get_running_loop()
    start = loop.time()
    sent: list[asyncio.Task[None]] = []
    for n in range(int(seconds * rate_per_s)):
        await asyncio.sleep(max(0.0, start + n / rate_per_s - loop.time()))
        sent.append(asyncio.create_task(order()))
    await asyncio.gather(*sent)


async def under_fault(
    gateway_url: str,
    auth: Mapping[str, str],
    sku: str,
    *,
    rate_per_s: float,
    seconds: float,
    fault: Callable[[asyncio.Event], Awaitable[T]],
) -> tuple[Load, T]:
    """`order_steadily` through the gateway while `fault` runs beside it (it sets the event while
    the fault lasts); the fault is always awaited, so what it broke is mended even when the load
    fails. Returns what the gateway answered and what the fault returned."""
    load, during = Load(), asyncio.Event()
    async with aiohttp.ClientSession(
        headers=dict(auth), timeout=aiohttp.ClientTimeout(total=30)
    ) as session:
        faulting = asyncio.create_task(fault(during))
        try:
            await order_steadily(
                session,
                f"{gateway_url}/v1/orders",
                sku,
                rate_per_s=rate_per_s,
                seconds=seconds,
                fault=during,
                load=load,
            )
        finally:
            outcome = await faulting
    return load, outcome


async def fetch(dsn: str, query: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn)
    try:
        return list(await connection.fetch(query, *args))
    finally:
        await connection.close()


async def assert_fulfilled_exactly_once(
    state: platform.PlatformState,
    customer: tenants.Customer,
    gateway_url: str,
    sku: str,
    stock_before: Mapping[str, Any],
    accepted: set[str],
    *,
    within: float,
) -> None:
    """Every accepted order ends fulfilled; no order of the tenant is left pending or confirmed
    (one the client never heard back about included); each fulfilled order has exactly one
    shipment and one label in S3, and nothing else has any; on-hand stock went down by exactly
    the fulfilled orders' units and nothing stays reserved."""
    orders_dsn = state.postgres_info.dsn("meridian_orders")

    async def states() -> dict[str, set[str]]:
        rows = await fetch(
            orders_dsn, "SELECT id, state FROM orders WHERE tenant_id = $1", customer.tenant_id
        )
        found: dict[str, set[str]] = {}
        for row in rows:
            found.setdefault(row["state"], set()).add(str(row["id"]))
        return found

    async def settled() -> bool:
        """every accepted order is fulfilled and none of the tenant's is still in flight"""
        now = await states()
        in_flight = now.get("pending", set()) | now.get("confirmed", set())
        return accepted <= now.get("fulfilled", set()) and not in_flight

    try:
        await eventually(settled, within=within, interval=2)
    except AssertionError:
        now = await states()
        raise AssertionError(
            f"orders by state: { {k: len(v) for k, v in now.items()} },"
            f" accepted but not fulfilled: {sorted(accepted - now.get('fulfilled', set()))[:10]}"
        ) from None
    fulfilled = (await states()).get("fulfilled", set())

    shipments = await fetch(
        state.postgres_info.dsn("meridian_fulfillment"),
        "SELECT id, order_id, label_key FROM shipments WHERE tenant_id = $1",
        customer.tenant_id,
    )
    per_order = Counter(str(row["order_id"]) for row in shipments)
    assert {o for o, n in per_order.items() if n > 1} == set(), "orders shipped more than once"
    assert set(per_order) == fulfilled, (
        f"shipments of orders not fulfilled: {set(per_order) - fulfilled},"
        f" fulfilled orders without a shipment: {fulfilled - set(per_order)}"
    )

    pages = tenants.s3(state).get_paginator("list_objects_v2")
    labels = [
        item["Key"]
        for page in pages.paginate(
            Bucket="meridian-fulfillment", Prefix=f"labels/{customer.tenant_id}/"
        )
        for item in page.get("Contents", [])
    ]
    labels_per_order = Counter(key.split("/")[2] for key in labels)
    assert labels_per_order == Counter(per_order), "not exactly one label per shipped order"
    assert set(labels) == {row["label_key"] for row in shipments}

    async def decremented() -> bool:
        """on-hand stock goes down by exactly the fulfilled orders, and nothing stays reserved"""
        _, after = call("GET", f"{gateway_url}/v1/inventory/stock/{sku}", **customer.auth)
        return bool(
            after["on_hand"] == stock_before["on_hand"] - len(fulfilled)
            and after["reserved"] == stock_before["reserved"]
        )

    try:
        await eventually(decremented, within=30)
    except AssertionError:
        _, after = call("GET", f"{gateway_url}/v1/inventory/stock/{sku}", **customer.auth)
        raise AssertionError(
            f"stock before {dict(stock_before)}, after {after}, {len(fulfilled)} fulfilled"
        ) from None
