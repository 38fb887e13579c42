"""Step 3, BillingReady: the tenant's Stripe customer and its subscription to the tier's price.

Stripe is the system of record for billing, but stripe-mock (and any retry) must not make us
create twice: every call carries an idempotency key derived from the tenant id and what the call
means, and what exists is recorded in the registry row, which is what the next reconcile reads.
Prices are found by lookup key `meridian-<tier>-<plan>-<currency>`, so the same code runs against
real Stripe, where price ids are generated.
"""

from __future__ import annotations

import uuid
from typing import Any

import stripe

from meridian.core.api.v1alpha1 import tenant
from meridian.core.registry import tenants
from meridian.core.runtime import db
from meridian.operators.machinery import reconciler
from meridian.operators.tenant import clients, reasons


def price_key(spec: tenant.TenantSpec) -> str:
    return f"{spec.tier}-{spec.billing.plan}-{spec.billing.currency}"


def idempotency_key(tenant_id: uuid.UUID, *purpose: object) -> str:
    return "-".join(["meridian-tenant", str(tenant_id), *(str(part) for part in purpose)])


async def _price_id(client: stripe.StripeClient, key: str) -> str | None:
    found = await client.v1.prices.list_async(
        params={"lookup_keys": [f"meridian-{key}"], "active": True, "limit": 1}
    )
    return found.data[0].id if found.data else None


def _failure(error: stripe.StripeError, base: str) -> reconciler.ConditionUpdate:
    if isinstance(error, stripe.APIConnectionError):
        message = f"Stripe API at {base} unreachable: {error.user_message or error}"
        return reconciler.ConditionUpdate(
            reasons.BILLING_READY, "False", reasons.STRIPE_UNAVAILABLE, message
        )
    message = f"Stripe refused the request: {error.user_message or error}"
    return reconciler.ConditionUpdate(
        reasons.BILLING_READY, "False", reasons.STRIPE_REJECTED, message
    )


async def ensure(
    opened: clients.Clients,
    name: str,
    spec: tenant.TenantSpec,
    tenant_id: uuid.UUID,
    generation: int,
) -> reconciler.ConditionUpdate:
    client, pool = opened.stripe, opened.pool
    async with pool.acquire() as conn:
        row = await tenants.find(conn, name)
    if row is None:  # offboarded between the database step and this one
        message = f"tenant {name} is not in the registry; waiting for {reasons.DATABASE_READY}"
        return reconciler.ConditionUpdate(
            reasons.BILLING_READY, "Unknown", reasons.BLOCKED, message
        )
    wanted = price_key(spec)
    try:
        customer_id = row["stripe_customer_id"]
        if not customer_id:
            contact = next((c for c in spec.contacts if c.role == "billing"), spec.contacts[0])
            key = idempotency_key(tenant_id, "customer")
            customer = await client.v1.customers.create_async(
                params={
                    "name": spec.display_name or name,
                    "email": contact.email,
                    # The key in metadata too: a customer in the dashboard says which call made it.
                    "metadata": {
                        "meridian_tenant": name,
                        "meridian_tenant_id": str(tenant_id),
                        "meridian_idempotency_key": key,
                    },
                },
                options={"idempotency_key": key},
            )
            customer_id = customer.id
            await _record(pool, tenant_id, customer_id=customer_id)
        if row["billing_price_key"] == wanted and row["stripe_subscription_id"]:
            return _ready(row["stripe_customer_id"], row["stripe_subscription_id"], wanted)
        price = await _price_id(client, wanted)
        if price is None:
            message = f"no active Stripe price with lookup key meridian-{wanted}"
            return reconciler.ConditionUpdate(
                reasons.BILLING_READY, "False", reasons.PRICE_NOT_FOUND, message
            )
        subscription_id = row["stripe_subscription_id"]
        if not subscription_id:
            subscription: Any = await client.v1.subscriptions.create_async(
                params={
                    "customer": customer_id,
                    "items": [{"price": price}],
                    "metadata": {"meridian_tenant": name, "meridian_price_key": wanted},
                },
                options={"idempotency_key": idempotency_key(tenant_id, "subscription")},
            )
        else:
            existing = await client.v1.subscriptions.retrieve_async(subscription_id)
            subscription = await client.v1.subscriptions.update_async(
                subscription_id,
                params={
                    "items": [{"id": existing["items"].data[0].id, "price": price}],
                    "proration_behavior": "create_prorations",
                    "metadata": {"meridian_tenant": name, "meridian_price_key": wanted},
                },
                # Per generation: changing back to an earlier tier is a new change, not a replay.
                options={
                    "idempotency_key": idempotency_key(
                        tenant_id, "subscription", generation, wanted
                    )
                },
            )
        await _record(pool, tenant_id, subscription_id=subscription.id, price_key=wanted)
        return _ready(customer_id, subscription.id, wanted)
    except stripe.StripeError as error:
        return _failure(error, opened.settings.stripe_api_base)


async def _record(pool: db.Pool, tenant_id: uuid.UUID, **fields: str) -> None:
    async with pool.acquire() as conn:
        await tenants.record_billing(conn, tenant_id, **fields)


def _ready(customer_id: str, subscription_id: str, key: str) -> reconciler.ConditionUpdate:
    message = f"customer {customer_id}, subscription {subscription_id} on {key}"
    return reconciler.ConditionUpdate(reasons.BILLING_READY, "True", reasons.PROVISIONED, message)


async def cancel(client: stripe.StripeClient, tenant_id: uuid.UUID, subscription_id: str) -> None:
    """Cancel at offboarding; idempotent (a repeat returns Stripe's stored answer)."""
    try:
        await client.v1.subscriptions.cancel_async(
            subscription_id,
            options={"idempotency_key": idempotency_key(tenant_id, "subscription-cancel")},
        )
    except stripe.InvalidRequestError as error:
        if error.code != "resource_missing":  # already gone in Stripe: nothing left to cancel
            raise
