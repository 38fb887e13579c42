"""The operator interface: operators are found from their packages, with their rules and settings."""

from __future__ import annotations

import pydantic
import pytest

from meridian.operators.machinery import operator, rbac, wiring
from meridian.operators.tenant import clients
from meridian.operators.tenant import rbac as tenant_rbac
from meridian.operators.tenant.settings import TenantSettings


def test_every_operator_package_is_discovered_by_its_name() -> None:
    """The list comes from the packages; no table elsewhere names them (a new one needs no edit)."""
    found = operator.discover()
    assert {"edge", "failover", "release", "tenant"} <= set(found)
    assert all(exported.name == name for name, exported in found.items())


def test_an_unknown_operator_name_stops_with_the_choices() -> None:
    """`--only tenat` fails at once and says what exists."""
    with pytest.raises(SystemExit, match="unknown operator 'tenat'; choose from edge"):
        operator.named(["tenat"])


def test_an_operators_role_adds_its_declared_rules_to_the_frameworks() -> None:
    """The Tenant operator's provisioning rules come from its package, after kopf's and its kind's."""
    rules = rbac.cluster_role("tenant")["rules"]
    assert rules[: len(rbac.FRAMEWORK_RULES)] == rbac.FRAMEWORK_RULES
    assert rules[-len(tenant_rbac.RULES) :] == list(tenant_rbac.RULES)


def test_an_operator_without_provisioning_may_touch_only_its_kind() -> None:
    """An operator that declares no rules gets kopf's rules and its own kind, nothing more."""
    found = [op for op in operator.discover().values() if not op.rbac_rules]
    for op in found:
        rules = rbac.cluster_role(op.name)["rules"]
        extra = rules[len(rbac.FRAMEWORK_RULES) :]
        assert {resource for rule in extra for resource in rule["resources"]} == {
            op.kind.plural,
            f"{op.kind.plural}/status",
        }


def test_tenant_settings_are_read_from_their_own_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    """MERIDIAN_OPERATOR_TENANT_* configures the Tenant operator; the process prefix does not."""
    monkeypatch.setenv("MERIDIAN_OPERATOR_TENANT_GATEWAY_NAMESPACE", "edge-gw")
    monkeypatch.setenv("MERIDIAN_OPERATOR_REDIS_URL", "redis://not-ours")
    settings = TenantSettings()
    assert settings.gateway_namespace == "edge-gw"
    assert settings.redis_url is None


def test_elasticsearch_is_optional_and_its_prefix_must_be_an_index_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No URL: no search step; a prefix Elasticsearch would refuse stops the start instead."""
    assert TenantSettings().elasticsearch_url is None
    monkeypatch.setenv("MERIDIAN_OPERATOR_TENANT_ELASTICSEARCH_URL", "http://127.0.0.1:9200")
    assert TenantSettings().elasticsearch_url == "http://127.0.0.1:9200"
    assert TenantSettings().search_index_prefix == "products"
    monkeypatch.setenv("MERIDIAN_OPERATOR_TENANT_SEARCH_INDEX_PREFIX", "Products")
    with pytest.raises(pydantic.ValidationError):
        TenantSettings()


def test_missing_tenant_peers_stop_the_start_naming_every_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The operator refuses to start without its peers, and says which variables to set."""
    monkeypatch.setenv("MERIDIAN_OPERATOR_TENANT_REDIS_URL", "redis://127.0.0.1:1")
    with pytest.raises(SystemExit) as stopped:
        clients.required(TenantSettings())
    message = str(stopped.value)
    assert "MERIDIAN_OPERATOR_TENANT_PG_DSN" in message
    assert "MERIDIAN_OPERATOR_TENANT_STRIPE_API_KEY" in message
    assert "REDIS_URL" not in message


@pytest.mark.parametrize("attempts_failed", [0, 3, 30])
def test_a_requeue_waits_at_most_the_cap(attempts_failed: int) -> None:
    """Backoff grows with failures but never beyond a minute."""
    delay = wiring.backoff(attempts_failed)
    assert 0 <= delay <= min(wiring.BACKOFF_CAP_S, 2**attempts_failed)
