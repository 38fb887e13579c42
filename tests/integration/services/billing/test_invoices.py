"""Invoices: one per tenant and period, lines equal to the metered usage, reported to Stripe with
idempotency keys, queued with backoff while Stripe is away and reported once it is back."""

from __future__ import annotations

import asyncio
import re
import uuid
from pathlib import Path
from typing import Any

from meridian.core.runtime import problems
from meridian.localplatform import gobuild, platform, stripe_mock
from meridian.localplatform.processes import Supervisor
from tests import tenants as tenant_helpers
from tests.integration.services.billing.conftest import (
    Client,
    Register,
    caller,
    put_usage,
    usage_of,
)
from tests.waiting import eventually, sample

PATH = "/v1/billing/invoices"


async def _metered(billing: Client, tenant: uuid.UUID, **wanted: int) -> None:
    async def arrived() -> bool:
        """the usage batch is committed"""
        usage = await usage_of(billing, tenant)
        return all(usage[product] == quantity for product, quantity in wanted.items())

    await eventually(arrived, within=20, interval=0.1)


async def _invoice(billing: Client, tenant: uuid.UUID, invoice_id: str) -> dict[str, Any]:
    response = await billing.get(f"{PATH}/{invoice_id}", headers=caller(tenant))
    assert response.status == 200
    found: dict[str, Any] = await response.json()
    return found


async def test_an_invoice_is_generated_once_with_lines_equal_to_usage_and_reported_to_stripe(
    billing: Client,
    register: Register,
    local_platform: platform.PlatformState,
    stream: str,
) -> None:
    tenant = (await register()).id
    await put_usage(local_platform, stream, tenant, api_calls=1234, orders_placed=7)
    await _metered(billing, tenant, api_calls=1234, orders_placed=7)
    first = await billing.post(PATH, json={}, headers=caller(tenant))
    assert first.status == 201
    invoice = await first.json()
    again = await billing.post(PATH, json={}, headers=caller(tenant))
    assert again.status == 200
    assert (await again.json())["id"] == invoice["id"]
    lines = {line["product"]: line for line in invoice["lines"]}
    assert {p: line["quantity"] for p, line in lines.items()} == {
        "api_calls": 1234,
        "orders_placed": 7,
        "searches": 0,
    }
    assert lines["orders_placed"]["amount_cents"] == 35  # 7 x 5 cents
    assert lines["api_calls"]["amount_cents"] == 12  # 1234 x 0.01 = 12.34, half up
    assert invoice["reconciliation"]["matches"] is True

    async def reported() -> dict[str, Any] | None:
        """the invoice reached Stripe"""
        found = await _invoice(billing, tenant, invoice["id"])
        return found if found["status"] == "reported" else None

    done = await eventually(reported, within=20, interval=0.1)
    assert done["stripe_invoice_id"].startswith("in_")
    keys = {
        found.group(1)
        for line in tenant_helpers.stripe_request_data(local_platform)
        if f"meridian_invoice_id:{invoice['id']}" in line
        and (found := re.search(r"meridian_idempotency_key:([\w-]+)", line))
    }
    prefix = f"meridian-invoice-{invoice['id']}"
    assert keys == {prefix, f"{prefix}-api_calls", f"{prefix}-orders_placed"}


async def test_stripe_stopped_during_invoicing_queues_the_invoice_until_it_is_back(
    billing: Client,
    register: Register,
    local_platform: platform.PlatformState,
    stream: str,
) -> None:
    tenant = (await register()).id
    await put_usage(local_platform, stream, tenant, searches=40)
    await _metered(billing, tenant, searches=40)
    supervisor = Supervisor(Path(local_platform.run_dir))
    await asyncio.to_thread(supervisor.stop, "stripe-mock")
    try:
        created = await billing.post(PATH, json={}, headers=caller(tenant))
        assert created.status == 201
        invoice_id = (await created.json())["id"]

        async def retrying() -> bool:
            """the invoice waits in the retry queue after failed attempts"""
            found = await _invoice(billing, tenant, invoice_id)
            return found["status"] == "retrying" and found["attempts"] >= 2

        await eventually(retrying, within=20, interval=0.1)
        metrics = str(billing.make_url("/metrics"))
        assert await sample(billing.session, metrics, "billing_invoices", status="retrying") >= 1
        assert await sample(billing.session, metrics, "billing_invoice_queue_oldest_seconds") > 0
    finally:
        bins = await asyncio.to_thread(gobuild.ensure_built)
        await asyncio.to_thread(
            stripe_mock.start, supervisor, Path(local_platform.run_dir) / "stripe-mock", bins
        )

    async def reported() -> bool:
        """the invoice went through once Stripe was back"""
        return (await _invoice(billing, tenant, invoice_id))["status"] == "reported"

    await eventually(reported, within=30, interval=0.2)
    creation = re.compile(rf"meridian_idempotency_key:meridian-invoice-{invoice_id}(?![\w-])")
    invoice_creations = [
        line for line in tenant_helpers.stripe_request_data(local_platform) if creation.search(line)
    ]
    assert len(invoice_creations) == 1  # none twice


async def test_bad_invoice_requests_are_problems(billing: Client) -> None:
    tenant = uuid.uuid4()
    response = await billing.post(PATH, json={"period": "2026-13"}, headers=caller(tenant))
    assert response.status == 422
    response = await billing.post(PATH, data=b"{", headers=caller(tenant))
    assert response.status in (400, 422)
    assert response.content_type == problems.CONTENT_TYPE
    response = await billing.get(f"{PATH}/not-a-uuid", headers=caller(tenant))
    assert response.status == 404
    response = await billing.get(f"{PATH}/{uuid.uuid4()}", headers=caller(tenant))
    assert response.status == 404
    readonly = caller(tenant, ("billing:read",))
    assert (await billing.post(PATH, json={}, headers=readonly)).status == 403
