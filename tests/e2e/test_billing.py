"""Billing end to end on the local platform's processes (`pipeline.start`): three tenants' traffic
through the real gateway is metered, invoiced to the unit and reported to stripe-mock with
idempotency keys; a signed payment failure posted to MERIDIAN_STRIPE_WEBHOOK_URL's route suspends
the tenant through its Tenant object. Billing is read directly (as the gateway would call it), so
reading does not add to the usage under test."""

from __future__ import annotations

import collections
import json
import re
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lightkube import AsyncClient

from meridian.core import kube
from meridian.core.registry import tenants as registry_tenants
from meridian.localplatform import pipeline, platform
from meridian.localplatform.processes import Supervisor
from meridian.services.stripe_webhooks import signature
from tests import tenants
from tests.waiting import eventually

SEEDED_API_CALLS = len(pipeline.DEMO_SKUS) * len(pipeline.DEMO_WAREHOUSES)
"""`seed_demo` sets each demo SKU's stock in each warehouse through the gateway: billable too."""
TRAFFIC = (
    ("GET", "/v1/orders", ("api_calls",)),
    ("GET", f"/v1/inventory/stock/{pipeline.DEMO_SKUS[0]}", ("api_calls",)),
    ("GET", "/v1/fulfillment/shipments", ("api_calls",)),
)


@pytest.fixture(scope="module")
def billing_pipeline(local_platform: platform.PlatformState) -> Iterator[pipeline.Pipeline]:
    run_dir = Path(local_platform.run_dir) / "e2e-billing"
    supervisor = Supervisor(run_dir)
    try:
        yield pipeline.start(local_platform, supervisor, run_dir)
    finally:
        supervisor.stop_all()


def call(method: str, url: str, body: Any = None, **headers: str) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def post_signed(url: str, body: bytes, secret: str) -> tuple[int, str | None]:
    """(status, problem reason) of one event posted as Stripe would, signed with `secret`."""
    request = urllib.request.Request(
        url,
        method="POST",
        data=body,
        headers={
            "Content-Type": "application/json",
            signature.HEADER: signature.header(body, [secret], int(time.time())),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()).get("reason")


async def test_three_tenants_traffic_is_invoiced_exactly_and_reported_with_idempotency_keys(
    local_platform: platform.PlatformState, billing_pipeline: pipeline.Pipeline, tmp_path: Path
) -> None:
    customers = [
        await tenants.customer(local_platform, billing_pipeline, tmp_path, prefix=p)
        for p in ("ba", "bb", "bc")
    ]
    expected = {
        c.tenant_id: collections.Counter({"api_calls": SEEDED_API_CALLS}) for c in customers
    }
    for round_ in range(20):
        for index, customer in enumerate(customers):
            for method, path, products in TRAFFIC[: 1 + (round_ + index) % len(TRAFFIC)]:
                status, _ = call(method, billing_pipeline.gateway_url + path, **customer.auth)
                assert status == 200, path
                expected[customer.tenant_id].update(products)
    # The customer the Tenant operator would have made and recorded (it is not running here).
    connection = await tenants.registry(local_platform)
    try:
        for customer in customers:
            await registry_tenants.record_billing(
                connection, customer.tenant_id, customer_id=f"cus_{customer.name}"
            )
    finally:
        await connection.close()
    billing = billing_pipeline.urls["billing"]
    invoices = {}
    for customer in customers:
        direct = tenants.identity_headers(
            local_platform, customer.tenant_id, customer.auth["Authorization"].split()[1]
        )
        wanted = {
            p: expected[customer.tenant_id][p] for p in ("api_calls", "orders_placed", "searches")
        }

        async def metered(direct: dict[str, str] = direct, wanted: dict[str, int] = wanted) -> bool:
            """billing's usage equals the requests sent through the gateway"""
            status, report = call("GET", f"{billing}/v1/billing/usage", **direct)
            assert status == 200, report
            return bool(report["usage"] == wanted)

        await eventually(metered, within=30, interval=0.5)
        status, invoice = call("POST", f"{billing}/v1/billing/invoices", {}, **direct)
        assert status == 201, invoice
        assert {line["product"]: line["quantity"] for line in invoice["lines"]} == wanted
        invoices[customer.tenant_id] = (invoice["id"], direct)

    async def reported() -> bool:
        """every invoice reached stripe-mock"""
        states = [
            call("GET", f"{billing}/v1/billing/invoices/{invoice_id}", **direct)[1]["status"]
            for invoice_id, direct in invoices.values()
        ]
        return all(state == "reported" for state in states)

    await eventually(reported, within=60, interval=0.5)
    log = "\n".join(tenants.stripe_request_data(local_platform))
    for invoice_id, _ in invoices.values():
        keys = set(
            re.findall(rf"meridian_idempotency_key:(meridian-invoice-{invoice_id}[\w-]*)", log)
        )
        assert f"meridian-invoice-{invoice_id}" in keys
        assert f"meridian-invoice-{invoice_id}-api_calls" in keys


async def test_a_signed_payment_failure_through_the_gateway_suspends_the_tenant(
    local_platform: platform.PlatformState,
    billing_pipeline: pipeline.Pipeline,
    kube_client: AsyncClient,
) -> None:
    name = f"bs{uuid.uuid4().hex[:8]}"
    tenant_id = await tenants.register(local_platform, name)
    connection = await tenants.registry(local_platform)
    try:
        await registry_tenants.record_billing(connection, tenant_id, customer_id=f"cus_{name}")
    finally:
        await connection.close()
    tenants.apply(local_platform, tenants.manifest(name))
    secret = pipeline.stripe_webhook_secret_file(Path(local_platform.run_dir)).read_text()
    url = billing_pipeline.gateway_url + pipeline.STRIPE_WEBHOOK_PATH
    body = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "object": "event",
            "type": "invoice.payment_failed",
            # Failed two minutes ago: past the local one-minute grace period already.
            "created": int(time.time()) - 120,
            "data": {"object": {"id": "in_e2e", "object": "invoice", "customer": f"cus_{name}"}},
        }
    ).encode()
    try:
        forged = post_signed(url, body, "whsec_wrong")
        assert forged == (400, "signature_mismatch")
        assert post_signed(url, body, secret) == (200, None)

        async def suspended() -> bool:
            """the Tenant's spec.suspended is true"""
            found = await kube_client.get(kube.RESOURCES["Tenant"], name)
            return bool(found["spec"].get("suspended"))

        await eventually(suspended, within=60, interval=0.5)
    finally:
        await kube_client.delete(kube.RESOURCES["Tenant"], name)
