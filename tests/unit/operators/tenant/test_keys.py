"""Names derived from a tenant: Stripe price lookup keys, idempotency keys, export prefixes."""

from __future__ import annotations

import uuid

from meridian.operators.tenant import billing, offboarding
from tests.unit.operators.tenant.conftest import SpecFactory

TENANT_ID = uuid.UUID("6f1d2c3b-0000-4000-8000-000000000001")


def test_the_price_key_names_tier_plan_and_currency(make_spec: SpecFactory) -> None:
    """Prices are found by lookup key, so the same code runs against real Stripe."""
    spec = make_spec(tier="enterprise", billing={"plan": "annual", "currency": "eur"})
    assert billing.price_key(spec) == "enterprise-annual-eur"


def test_an_idempotency_key_is_the_same_for_the_same_call() -> None:
    """A retried call replays Stripe's stored answer instead of creating twice."""
    assert billing.idempotency_key(TENANT_ID, "customer") == billing.idempotency_key(
        TENANT_ID, "customer"
    )


def test_idempotency_keys_differ_by_purpose_and_generation() -> None:
    """Changing back to an earlier tier in a later generation is a new change, not a replay."""
    keys = {
        billing.idempotency_key(TENANT_ID, "customer"),
        billing.idempotency_key(TENANT_ID, "subscription", 2, "growth-standard-usd"),
        billing.idempotency_key(TENANT_ID, "subscription", 4, "growth-standard-usd"),
    }
    assert len(keys) == 3


def test_the_export_prefix_is_per_tenant_and_deletion_time() -> None:
    """Two deletions of a re-created tenant never overwrite each other's export."""
    prefix = offboarding.export_prefix("acme", "2026-11-27T06:00:00Z")
    assert prefix == "tenants/acme/20261127T060000Z/"
