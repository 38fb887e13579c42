"""The order pipeline as an on-call engineer would exercise it: every service a real process,
behind the gateway, on real PostgreSQL, Redis, RabbitMQ and S3 (moto), with the carrier fake.

A tenant user logs in through the gateway, orders; the order is confirmed (stock reserved),
fulfilled (a label PDF in S3), and stock is decremented; every state is visible through the API.
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pypdf
import pytest

from meridian.localplatform import pipeline, platform
from meridian.localplatform.processes import Supervisor
from tests import tenants
from tests.waiting import eventually


@pytest.fixture(scope="module")
def order_pipeline(local_platform: platform.PlatformState) -> Iterator[pipeline.Pipeline]:
    run_dir = Path(local_platform.run_dir) / "e2e-pipeline"
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


SHIP_TO = {
    "name": "Grace Hopper",
    "street1": "1 Navy Pier",
    "city": "Arlington",
    "state": "VA",
    "postal_code": "22202",
    "country": "US",
}


async def test_a_user_orders_through_the_gateway_and_the_order_is_fulfilled(
    local_platform: platform.PlatformState, order_pipeline: pipeline.Pipeline, tmp_path: Path
) -> None:
    auth = (await tenants.customer(local_platform, order_pipeline, tmp_path, prefix="p")).auth
    gateway = order_pipeline.gateway_url
    sku = pipeline.DEMO_SKUS[0]
    _, before = call("GET", f"{gateway}/v1/inventory/stock/{sku}", **auth)

    status, order = call(
        "POST",
        f"{gateway}/v1/orders",
        {"lines": [{"sku": sku, "quantity": 3}], "ship_to": SHIP_TO},
        **auth,
        **{"Idempotency-Key": str(uuid.uuid4())},
    )
    assert status == 201, order
    assert order["state"] == "confirmed"
    assert sum(a["quantity"] for a in order["allocations"]) == 3
    _, reserved = call("GET", f"{gateway}/v1/inventory/stock/{sku}", **auth)
    assert reserved["reserved"] == before["reserved"] + 3

    async def fulfilled() -> dict[str, Any] | None:
        """the order reaches fulfilled through RabbitMQ, fulfillment and the carrier"""
        _, found = call("GET", f"{gateway}/v1/orders/{order['id']}", **auth)
        return found if found["state"] == "fulfilled" else None

    await eventually(fulfilled, within=60)
    _, shipments = call("GET", f"{gateway}/v1/fulfillment/shipments?order_id={order['id']}", **auth)
    assert len(shipments["items"]) == 1
    label = tenants.s3(local_platform).get_object(
        Bucket="meridian-fulfillment", Key=shipments["items"][0]["label_key"]
    )
    pdf = pypdf.PdfReader(io.BytesIO(label["Body"].read()), strict=True)
    assert SHIP_TO["name"] in pdf.pages[0].extract_text()  # the carrier shipped it there

    async def decremented() -> bool:
        """on-hand stock goes down by the shipped quantity, and the reservation is released"""
        _, after = call("GET", f"{gateway}/v1/inventory/stock/{sku}", **auth)
        return bool(
            after["on_hand"] == before["on_hand"] - 3 and after["reserved"] == before["reserved"]
        )

    await eventually(decremented, within=30)


def test_the_gateway_refuses_requests_without_a_token(order_pipeline: pipeline.Pipeline) -> None:
    status, problem = call("GET", f"{order_pipeline.gateway_url}/v1/orders")
    assert status == 401
    assert problem["status"] == 401
