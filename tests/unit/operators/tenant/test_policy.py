"""A tier's policy and a spec's overrides, and the registry row built from them."""

from __future__ import annotations

import pytest

from meridian.core.api.v1alpha1 import tenant
from meridian.operators.tenant import database
from tests.unit.operators.tenant.conftest import SpecFactory


@pytest.mark.parametrize("tier", sorted(tenant.TIERS))
def test_a_tiers_floor_is_below_its_default(tier: str) -> None:
    """The minimum an override may go down to never exceeds what the tier gives by default."""
    policy = tenant.TIERS[tier]
    assert policy.min_pods <= policy.pods
    assert float(policy.min_cpu) <= float(policy.cpu)
    assert policy.requests_per_second <= policy.burst


def test_higher_tiers_give_more() -> None:
    """starter < growth < enterprise in every default."""
    starter, growth, enterprise = (tenant.TIERS[t] for t in ("starter", "growth", "enterprise"))
    assert starter.pods < growth.pods < enterprise.pods
    assert starter.requests_per_second < growth.requests_per_second < enterprise.requests_per_second


def test_spec_overrides_replace_only_the_fields_they_set(make_spec: SpecFactory) -> None:
    """A rate-limit override keeps the tier's quotas and floors."""
    policy = make_spec(tier="growth", rateLimit={"requestsPerSecond": 200}).policy()
    growth = tenant.TIERS["growth"]
    assert policy == growth._replace(requests_per_second=200)


def test_the_registry_row_carries_the_effective_limits(make_spec: SpecFactory) -> None:
    """The gateway and auth read limits from the row: they are the spec's, tier defaults filled in."""
    row = database.record("acme", make_spec(tier="starter", quotas={"pods": 7}))
    starter = tenant.TIERS["starter"]
    assert row.limits == {"cpu": starter.cpu, "memory": starter.memory, "pods": 7}
    assert (row.rate_limit.requests_per_second, row.rate_limit.burst) == (
        starter.requests_per_second,
        starter.burst,
    )


def test_a_suspended_spec_registers_a_suspended_tenant(make_spec: SpecFactory) -> None:
    """spec.suspended is the registry state auth and the gateway enforce."""
    assert database.record("acme", make_spec(suspended=True)).state == "suspended"
    assert database.record("acme", make_spec()).state == "active"
