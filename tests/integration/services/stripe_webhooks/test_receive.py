"""Receiving: verified events are stored before the 200 and relayed once; everything else is a
counted, logged 400 problem+json."""

from __future__ import annotations

import asyncpg
import pytest
from structlog.testing import capture_logs

from meridian.core.runtime import problems
from tests.integration.services.stripe_webhooks.conftest import (
    PREVIOUS,
    Client,
    Relayed,
    event,
    signed,
)
from tests.waiting import sample

PATH = "/v1/stripe/webhooks"
REFUSED = "stripe_webhook_refused_total"


async def _refused(client: Client, reason: str) -> float:
    return await sample(client.session, str(client.make_url("/metrics")), REFUSED, reason=reason)


async def _stored(dsn: str, event_id: str) -> asyncpg.Record | None:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetchrow(
            "SELECT deliveries, processed_at, outcome FROM stripe_events WHERE id = $1", event_id
        )
    finally:
        await connection.close()


async def test_an_event_signed_with_the_current_secret_is_stored_and_relayed_once(
    client: Client, relayed: Relayed, webhooks_dsn: str
) -> None:
    body = event("invoice.paid", customer="cus_A1", amount_paid=4900)
    payload, headers = signed(body)
    response = await client.post(PATH, data=payload, headers=headers)
    assert response.status == 200
    assert await response.json() == {"id": body["id"], "duplicate": False}
    assert await _stored(webhooks_dsn, body["id"]) is not None
    (message,) = await relayed.take(1)
    assert message.stripe_event_id == body["id"]
    assert message.stripe_type == "invoice.paid"
    assert message.customer == "cus_A1"
    assert message.object["amount_paid"] == 4900


async def test_an_event_signed_with_the_previous_secret_is_accepted_during_a_rotation(
    client: Client, relayed: Relayed
) -> None:
    payload, headers = signed(event("charge.refunded"), secret=PREVIOUS)
    response = await client.post(PATH, data=payload, headers=headers)
    assert response.status == 200
    (message,) = await relayed.take(1)
    assert message.stripe_type == "charge.refunded"


async def test_a_replayed_event_id_answers_200_and_is_processed_once(
    client: Client, relayed: Relayed, webhooks_dsn: str
) -> None:
    body = event("invoice.payment_failed", customer="cus_B2")
    for _ in range(3):
        payload, headers = signed(body)
        response = await client.post(PATH, data=payload, headers=headers)
        assert response.status == 200
    assert (await response.json())["duplicate"] is True
    await relayed.take(1)
    row = await _stored(webhooks_dsn, body["id"])
    assert row is not None
    assert row["deliveries"] == 3
    assert row["outcome"] == "relayed"
    assert await relayed.empty()


async def test_a_type_billing_does_not_act_on_is_stored_and_marked_ignored(
    client: Client, relayed: Relayed, webhooks_dsn: str
) -> None:
    body = event("customer.created")
    payload, headers = signed(body)
    assert (await client.post(PATH, data=payload, headers=headers)).status == 200
    relayed_body = event("invoice.paid")  # a later relayed event: the ignored one was passed by
    payload, headers = signed(relayed_body)
    assert (await client.post(PATH, data=payload, headers=headers)).status == 200
    (message,) = await relayed.take(1)
    assert message.stripe_event_id == relayed_body["id"]
    row = await _stored(webhooks_dsn, body["id"])
    assert row is not None
    assert row["outcome"] == "ignored"


@pytest.mark.parametrize(
    ("secret", "skew", "reason"),
    [
        ("whsec_wrong", 0, "signature_mismatch"),
        (None, 301, "timestamp_expired"),
    ],
)
async def test_a_wrong_signature_or_an_expired_timestamp_is_a_counted_logged_400(
    client: Client, webhooks_dsn: str, secret: str | None, skew: int, reason: str
) -> None:
    import time

    body = event("invoice.paid")
    before = await _refused(client, reason)
    kwargs = {"secret": secret} if secret else {}
    payload, headers = signed(body, timestamp=int(time.time()) - skew, **kwargs)
    with capture_logs() as logs:
        response = await client.post(PATH, data=payload, headers=headers)
    assert response.status == 400
    assert response.content_type == problems.CONTENT_TYPE
    assert (await response.json())["reason"] == reason
    assert await _refused(client, reason) == before + 1
    refusal = next(e for e in logs if e["event"] == "Refused a Stripe webhook request")
    assert refusal["event_id"] == body["id"]
    assert refusal["reason"] == reason
    assert await _stored(webhooks_dsn, body["id"]) is None


async def test_an_unsigned_request_is_refused_as_missing_signature(client: Client) -> None:
    before = await _refused(client, "missing_signature")
    response = await client.post(PATH, json=event())
    assert response.status == 400
    assert (await response.json())["reason"] == "missing_signature"
    assert await _refused(client, "missing_signature") == before + 1


@pytest.mark.parametrize(
    "payload",
    [b"not json", b"[]", b'{"id": "evt_1", "object": "event"}', b'{"id": "x", "type": 1}'],
)
async def test_a_signed_malformed_body_is_a_counted_400_naming_the_fields(
    client: Client, payload: bytes
) -> None:
    before = await _refused(client, "malformed_body")
    data, headers = signed(payload)
    response = await client.post(PATH, data=data, headers=headers)
    assert response.status == 400
    answer = await response.json()
    assert answer["reason"] == "malformed_body"
    assert answer["errors"]
    assert await _refused(client, "malformed_body") == before + 1
