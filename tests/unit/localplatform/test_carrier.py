"""The carrier fake speaks its protocol: auth, idempotency, real PDF labels, injected faults."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from typing import Any

import pypdf
import pytest_asyncio
import yarl
from aiohttp.test_utils import TestClient, TestServer

from meridian.localplatform import carrier, carrier_label

AUTH = {"Authorization": f"Bearer {carrier.API_KEY}"}
SHIPMENT: dict[str, Any] = {
    "from_address": {
        "name": "Meridian WH-1",
        "street1": "1 Dock Street",
        "city": "Portland",
        "state": "OR",
        "postal_code": "97201",
        "country": "US",
    },
    "to_address": {
        "name": "Ada (Lovelace)",
        "street1": "12 St James's Square",
        "city": "London",
        "postal_code": "SW1Y 4JH",
        "country": "GB",
    },
    "parcel": {"weight_oz": 24},
    "service": "express",
}


@pytest_asyncio.fixture
async def client() -> AsyncIterator[TestClient[Any, Any]]:
    async with TestClient(TestServer(carrier.create_app())) as test_client:
        yield test_client


async def test_shipment_without_api_key_is_refused(client: TestClient[Any, Any]) -> None:
    response = await client.post("/v1/shipments", json=SHIPMENT)
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "UNAUTHORIZED"
    wrong = await client.post("/v1/shipments", json=SHIPMENT, headers={"Authorization": "Bearer x"})
    assert wrong.status == 401
    assert client.app[carrier.STATE].shipments == {}


async def test_label_without_api_key_is_refused(client: TestClient[Any, Any]) -> None:
    created = await (await client.post("/v1/shipments", json=SHIPMENT, headers=AUTH)).json()
    response = await client.get(f"/v1/labels/{created['id']}.pdf")
    assert response.status == 401


async def test_same_idempotency_key_returns_the_same_shipment(
    client: TestClient[Any, Any],
) -> None:
    headers = {**AUTH, "Idempotency-Key": "order-1-wh-1"}
    first = await client.post("/v1/shipments", json=SHIPMENT, headers=headers)
    again = await client.post("/v1/shipments", json=SHIPMENT, headers=headers)
    assert (first.status, again.status) == (201, 201)
    assert await first.json() == await again.json()
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await client.post("/v1/shipments", json=SHIPMENT, headers=AUTH)
    assert (await other.json())["id"] != (await first.json())["id"]
    assert len(client.app[carrier.STATE].shipments) == 2


async def test_reused_idempotency_key_with_other_parameters_is_refused(
    client: TestClient[Any, Any],
) -> None:
    headers = {**AUTH, "Idempotency-Key": "k"}
    await client.post("/v1/shipments", json=SHIPMENT, headers=headers)
    changed = {**SHIPMENT, "service": "ground"}
    response = await client.post("/v1/shipments", json=changed, headers=headers)
    assert response.status == 422
    assert (await response.json())["error"]["code"] == "IDEMPOTENCY_KEY_REUSED"


async def test_invalid_shipment_names_the_fields(client: TestClient[Any, Any]) -> None:
    bad = {**SHIPMENT, "parcel": {"weight_oz": -1}, "service": "teleport"}
    response = await client.post("/v1/shipments", json=bad, headers=AUTH)
    assert response.status == 422
    fields = {e["field"] for e in (await response.json())["error"]["errors"]}
    assert fields == {"parcel.weight_oz", "service"}


async def test_label_is_a_pdf_with_the_shipment_on_it(client: TestClient[Any, Any]) -> None:
    created = await (await client.post("/v1/shipments", json=SHIPMENT, headers=AUTH)).json()
    assert created["label"]["format"] == "PDF"
    assert created["rate"] == {"amount": "18.90", "currency": "USD"}
    url = yarl.URL(created["label"]["url"])
    assert url.origin() == client.make_url("/").origin()
    response = await client.get(url.path, headers=AUTH)
    assert response.status == 200
    assert response.content_type == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(await response.read()), strict=True)
    assert len(reader.pages) == 1
    box = reader.pages[0].mediabox
    assert (box.width, box.height) == (carrier_label.PAGE_WIDTH, carrier_label.PAGE_HEIGHT)
    text = reader.pages[0].extract_text()
    for expected in (created["id"], created["tracking_number"], "Ada (Lovelace)", "Meridian WH-1"):
        assert expected in text
    assert "SW1Y 4JH GB" in text


async def test_injected_faults_fail_the_next_calls_then_clear(
    client: TestClient[Any, Any],
) -> None:
    armed = await client.post("/_faults", json={"fail_next": 2, "status": 503})
    assert armed.status == 200
    statuses = [
        (await client.post("/v1/shipments", json=SHIPMENT, headers=AUTH)).status for _ in range(3)
    ]
    assert statuses == [503, 503, 201]
    stats = await (await client.get("/_stats")).json()
    assert stats["shipments"] == 1
    assert stats["failed"] == 2
    assert stats["calls"]["POST /v1/shipments"] == 3


async def test_faults_can_target_matching_requests_only(client: TestClient[Any, Any]) -> None:
    await client.post("/_faults", json={"fail_next": 5, "status": 500, "match": "WH-9"})
    poisoned = {**SHIPMENT, "from_address": {**SHIPMENT["from_address"], "name": "WH-9"}}
    assert (await client.post("/v1/shipments", json=poisoned, headers=AUTH)).status == 500
    assert (await client.post("/v1/shipments", json=SHIPMENT, headers=AUTH)).status == 201
    await client.delete("/_faults")
    assert (await client.post("/v1/shipments", json=poisoned, headers=AUTH)).status == 201


async def test_bad_fault_settings_are_refused(client: TestClient[Any, Any]) -> None:
    response = await client.post("/_faults", json={"fail_next": -1, "bogus": 1})
    assert response.status == 400


def test_label_rendering_is_deterministic_and_escapes_text() -> None:
    label = carrier_label.LabelText(
        shipment_id="shp_1",
        tracking_number="1ZM(\\)",
        carrier="MeridianPost",
        service="ground",
        sender=["Müller (Lager) \\ 2"],
        recipient=["東京"],  # outside WinAnsi: replaced, never a broken document
        weight_oz=8,
    )
    document = carrier_label.render(label)
    assert document == carrier_label.render(label)
    text = pypdf.PdfReader(io.BytesIO(document), strict=True).pages[0].extract_text()
    assert "Müller (Lager) \\ 2" in text
    assert "1ZM(\\)" in text
