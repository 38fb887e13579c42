"""The webhook's rules over fetched data: selectors, the PDB and NetworkPolicy rules, our kinds'
checks, and how modes turn violations into denials or warnings."""

from __future__ import annotations

from typing import Any

import pytest

from meridian.core.policy import catalogue, integrity, kinds, selectors, workloads
from meridian.core.policy.catalogue import Mode
from meridian.webhooks import verdict


def _deployment(replicas: Any = 3, labels: dict[str, str] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "template": {"metadata": {"labels": labels or {"app": "orders", "tier": "web"}}}
    }
    if replicas is not None:
        spec["replicas"] = replicas
    return {"spec": spec}


def _pdb(selector: Any) -> dict[str, Any]:
    return {"spec": {"selector": selector}}


@pytest.mark.parametrize(
    ("selector", "selected"),
    [
        ({}, True),
        (None, False),
        ({"matchLabels": {"app": "orders"}}, True),
        ({"matchLabels": {"app": "auth"}}, False),
        ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]}, True),
        ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]}, False),
        ({"matchExpressions": [{"key": "zone", "operator": "DoesNotExist"}]}, True),
        ({"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["a"]}]}, True),
        ({"matchExpressions": [{"key": "zone", "operator": "Exists"}]}, False),
        ({"matchExpressions": [{"key": "app", "operator": "Bogus"}]}, False),
    ],
)
def test_label_selectors_select_as_the_apiserver_does(selector: Any, selected: bool) -> None:
    assert selectors.matches(selector, {"app": "orders", "tier": "web"}) is selected


def test_a_deployment_needs_a_pdb_only_beyond_one_replica() -> None:
    assert workloads.needs_pdb(_deployment(3))
    assert not workloads.needs_pdb(_deployment(1))
    assert not workloads.needs_pdb(_deployment(None))  # the apiserver's default is 1
    with pytest.raises(workloads.BadObject):
        workloads.needs_pdb(_deployment("3"))


def test_a_pdb_selecting_the_pods_satisfies_the_rule_and_one_selecting_others_does_not() -> None:
    matching = _pdb({"matchLabels": {"app": "orders"}})
    other = _pdb({"matchLabels": {"app": "auth"}})
    assert workloads.pdb_violation(_deployment(), "ns", [other, matching]) is None
    violation = workloads.pdb_violation(_deployment(), "ns", [other])
    assert violation is not None
    assert violation.text().startswith("meridian-pdb-required: spec.replicas: 3 replicas but no")
    assert "app=orders, tier=web" in violation.text()


def test_a_namespace_without_network_policy_is_a_violation() -> None:
    assert workloads.network_policy_violation("ns", True) is None
    violation = workloads.network_policy_violation("ns", False)
    assert violation is not None
    assert violation.policy.name == "meridian-network-policy"


def test_our_kinds_checks_name_the_field() -> None:
    assert kinds.service_release({"spec": {"service": "orders"}}, ("orders",)) == []
    [unknown] = kinds.service_release({"spec": {"service": "report"}}, ("orders",))
    assert (unknown.policy, unknown.field) == (integrity.SERVICE_IN_CATALOGUE, "spec.service")
    [site] = kinds.edge_site({"spec": {"site": "lax9"}}, ("nyc1",))
    assert site.field == "spec.site"
    assert kinds.tenant_name("acme", registered=False) == []
    assert kinds.tenant_name("acme", registered=True)[0].field == "metadata.name"


def test_a_failover_plan_names_only_the_secrets_it_sets() -> None:
    plan = {
        "spec": {
            "sourceCluster": {"kubeconfigSecret": ""},
            "targetCluster": {"kubeconfigSecret": "dr"},
            "database": {
                "primary": {
                    "credentialsSecret": "rds",
                    "agent": {"url": "http://a", "tokenSecret": {"name": "agent", "key": "t"}},
                },
                "replica": {},
            },
        }
    }
    assert kinds.failover_secrets(plan) == {
        "spec.targetCluster.kubeconfigSecret": "dr",
        "spec.database.primary.credentialsSecret": "rds",
        "spec.database.primary.agent.tokenSecret.name": "agent",
    }


def test_enforce_denies_audit_warns_and_integrity_checks_always_deny() -> None:
    pdb = verdict.Violation(catalogue.get("meridian-pdb-required"), "spec.replicas", "x")
    site = verdict.Violation(integrity.EDGE_SITE_KNOWN, "spec.site", "y")
    audit = {"meridian-pdb-required": Mode.AUDIT}
    decided = verdict.decide([pdb, site], audit)
    assert decided.denials == [site.text()]
    assert decided.warnings == [f"{pdb.text()} (audit mode: will be denied once enforced)"]
    assert verdict.decide([pdb], {"meridian-pdb-required": Mode.ENFORCE}).denials == [pdb.text()]
