"""Period end: usage in a closed period becomes exactly one invoice per tenant, however many
passes (or replicas) run, and not before the wait for late batches is over."""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest_asyncio

from meridian.core.runtime import db
from meridian.localplatform import platform
from meridian.services.billing import closing
from meridian.services.billing.settings import Settings
from tests.integration.services.billing.conftest import Client, Register, caller, put_usage
from tests.waiting import eventually

SEPTEMBER = datetime.datetime(2026, 9, 15, 12, 0, tzinfo=datetime.UTC)
OCTOBER_FIRST = datetime.datetime(2026, 10, 1, tzinfo=datetime.UTC)

Replica = tuple[db.Pool, db.Pool]


@pytest_asyncio.fixture
async def replicas(
    billing: Client, billing_dsn: str, local_platform: platform.PlatformState
) -> AsyncIterator[list[Replica]]:
    """Two replicas' pools (billing's and the registry's), after `billing` migrated the database."""
    made: list[Replica] = []
    for index in range(2):
        made.append(
            (
                await db.create_pool(billing_dsn, application_name=f"closer-{index}", max_size=4),
                await db.create_pool(
                    local_platform.postgres_info.dsn("meridian_platform"),
                    application_name=f"closer-registry-{index}",
                    max_size=2,
                ),
            )
        )
    yield made
    for pool, registry_pool in made:
        await pool.close()
        await registry_pool.close()


async def _invoices(billing: Client, tenant: uuid.UUID) -> list[dict[str, Any]]:
    response = await billing.get("/v1/billing/invoices", headers=caller(tenant))
    assert response.status == 200, await response.text()
    items: list[dict[str, Any]] = (await response.json())["items"]
    return items


async def test_a_closed_period_gets_one_invoice_per_tenant_however_often_it_is_closed(
    billing: Client,
    billing_settings: Settings,
    replicas: list[Replica],
    register: Register,
    local_platform: platform.PlatformState,
    stream: str,
) -> None:
    tenants = [(await register()).id for _ in range(3)]
    usage = {
        tenants[0]: {"api_calls": 1001, "orders_placed": 3},
        tenants[1]: {"searches": 250},
        tenants[2]: {"api_calls": 7},
    }
    for tenant, quantities in usage.items():
        await put_usage(local_platform, stream, tenant, sealed_at=SEPTEMBER, **quantities)
    # A late batch of September's, sealed just before its end: still September's usage.
    await put_usage(
        local_platform,
        stream,
        tenants[2],
        sealed_at=OCTOBER_FIRST - datetime.timedelta(seconds=1),
        api_calls=5,
    )
    usage[tenants[2]]["api_calls"] += 5

    async def metered() -> bool:
        """every batch is committed"""
        for tenant, quantities in usage.items():
            response = await billing.get(
                "/v1/billing/usage", params={"period": "2026-09"}, headers=caller(tenant)
            )
            found = (await response.json())["usage"]
            if any(found[product] != quantity for product, quantity in quantities.items()):
                return False
        return True

    await eventually(metered, within=20, interval=0.1)
    settings = billing_settings.model_copy(update={"close_after_s": 3600.0})

    # Half an hour after September ended, its late batches may still come: no invoice yet.
    (pool, registry_pool), (other_pool, other_registry) = replicas
    early = OCTOBER_FIRST + datetime.timedelta(minutes=30)
    await closing.close_once(pool, registry_pool, settings, now=early)
    for tenant in tenants:
        assert await _invoices(billing, tenant) == []

    # Past the wait: two replicas at once, then a third pass.
    later = OCTOBER_FIRST + datetime.timedelta(hours=2)
    await asyncio.gather(
        closing.close_once(pool, registry_pool, settings, now=later),
        closing.close_once(other_pool, other_registry, settings, now=later),
    )
    await closing.close_once(pool, registry_pool, settings, now=later)
    for tenant, quantities in usage.items():
        invoices = await _invoices(billing, tenant)
        assert [invoice["period"] for invoice in invoices] == ["2026-09"]
        lines = {line["product"]: line["quantity"] for line in invoices[0]["lines"]}
        assert lines == {"api_calls": 0, "orders_placed": 0, "searches": 0, **quantities}
        detail = await billing.get(
            f"/v1/billing/invoices/{invoices[0]['id']}", headers=caller(tenant)
        )
        assert (await detail.json())["reconciliation"]["matches"] is True
