"""Stripe's payment events through the webhook handler into billing: a payment failure past the
grace period suspends the tenant through its Tenant object; paying gives it back."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from lightkube import AsyncClient

from meridian.core import kube
from meridian.localplatform import platform
from meridian.services.billing.settings import Settings as BillingSettings
from meridian.services.stripe_webhooks import app as webhooks_app
from meridian.services.stripe_webhooks.settings import Settings as WebhooksSettings
from tests import databases
from tests import tenants as tenant_helpers
from tests.integration.services.billing.conftest import Client, Register, caller
from tests.integration.services.stripe_webhooks.conftest import CURRENT, event, signed
from tests.waiting import eventually


@pytest_asyncio.fixture
async def webhooks(
    local_platform: platform.PlatformState, billing_settings: BillingSettings, tmp_path: Path
) -> AsyncIterator[Client]:
    secret = tmp_path / "signing-secret"
    secret.write_text(CURRENT)
    async with databases.fresh(local_platform, "stripe_t") as dsn:
        settings = WebhooksSettings(
            pg_dsn=dsn,
            amqp_url=local_platform.rabbitmq_info.amqp_url,
            signing_secret_file=secret,
            events_exchange=billing_settings.stripe_exchange,
            process_interval_s=0.2,
        )
        async with TestClient(TestServer(webhooks_app.create_app(settings))) as client:
            yield client


async def _send(webhooks: Client, body: dict[str, Any]) -> None:
    payload, headers = signed(body)
    response = await webhooks.post("/v1/stripe/webhooks", data=payload, headers=headers)
    assert response.status == 200


async def test_a_payment_failure_past_the_grace_period_suspends_the_tenant_until_it_pays(
    billing: Client,
    webhooks: Client,
    register: Register,
    local_platform: platform.PlatformState,
    kube_client: AsyncClient,
) -> None:
    tenant = await register()
    tenant_helpers.apply(local_platform, tenant_helpers.manifest(tenant.name))
    try:
        await _send(webhooks, event("invoice.payment_failed", customer=tenant.customer))

        async def account(status: str) -> bool:
            response = await billing.get("/v1/billing/account", headers=caller(tenant.id))
            return bool((await response.json())["status"] == status)

        async def suspended() -> bool:
            """the Tenant's spec.suspended is true and the account says suspended"""
            found = await kube_client.get(kube.RESOURCES["Tenant"], tenant.name)
            return bool(found["spec"].get("suspended")) and await account("suspended")

        await eventually(suspended, within=30, interval=0.2)
        await _send(webhooks, event("invoice.paid", customer=tenant.customer))

        async def resumed() -> bool:
            """billing gave the tenant back once it paid"""
            found = await kube_client.get(kube.RESOURCES["Tenant"], tenant.name)
            return found["spec"].get("suspended") is False and await account("active")

        await eventually(resumed, within=30, interval=0.2)
    finally:
        await kube_client.delete(kube.RESOURCES["Tenant"], tenant.name)


async def test_a_failure_within_the_grace_period_only_marks_the_tenant_past_due(
    billing: Client,
    webhooks: Client,
    register: Register,
    billing_settings: BillingSettings,
) -> None:
    tenant = await register()  # no Tenant object: suspending it would fail loudly in the log
    failed = event("invoice.payment_failed", customer=tenant.customer)
    failed["created"] += 3600  # the grace period runs from this failure, an hour from now
    await _send(webhooks, failed)
    await _send(webhooks, event("charge.refunded", customer=tenant.customer, amount_refunded=250))

    async def past_due() -> bool:
        """the account is past due with the refund counted"""
        response = await billing.get("/v1/billing/account", headers=caller(tenant.id))
        found = await response.json()
        return bool(found["status"] == "past_due" and found["refunded_cents"] == 250)

    await eventually(past_due, within=30, interval=0.2)


async def test_an_event_for_a_customer_no_tenant_has_changes_nothing(
    billing: Client, webhooks: Client
) -> None:
    await _send(webhooks, event("invoice.payment_failed", customer=f"cus_{uuid.uuid4().hex}"))
    response = await billing.get("/v1/billing/account", headers=caller(uuid.uuid4()))
    assert (await response.json())["status"] == "active"
