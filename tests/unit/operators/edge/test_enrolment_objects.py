"""A node's identity: exactly its own Lease and EdgeNode, and a kubeconfig with a bounded token."""

from __future__ import annotations

import datetime

import pytest
import yaml

from meridian.core.api.v1alpha1 import edgenode
from meridian.operators.edge import credentials, resources
from meridian.operators.edge.settings import EdgeNodeSettings


def by_kind(node: str) -> dict[str, dict[str, object]]:
    return {m["kind"]: m for m in resources.render(node, "uid-1", 50)}


def test_the_agent_may_touch_only_its_own_lease_and_edgenode() -> None:
    rendered = by_kind("edge-nyc1-01")
    assert rendered["Role"]["rules"] == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["edge-nyc1-01"],
            "verbs": ["get", "update"],
        }
    ]
    cluster_rules = rendered["ClusterRole"]["rules"]
    assert isinstance(cluster_rules, list)
    assert all(rule["resourceNames"] == ["edge-nyc1-01"] for rule in cluster_rules)
    assert {r for rule in cluster_rules for r in rule["resources"]} == {
        "edgenodes",
        "edgenodes/status",
    }
    verbs = {v for rule in cluster_rules for v in rule["verbs"]}
    assert "delete" not in verbs
    assert "create" not in verbs


def test_every_object_is_owned_by_the_edgenode_and_binds_its_own_account() -> None:
    rendered = by_kind("edge-nyc1-01")
    for manifest in rendered.values():
        meta = manifest["metadata"]
        assert isinstance(meta, dict)
        assert meta["ownerReferences"][0]["uid"] == "uid-1"
    for binding in ("RoleBinding", "ClusterRoleBinding"):
        assert rendered[binding]["subjects"] == [
            {"kind": "ServiceAccount", "name": "edge-edge-nyc1-01", "namespace": "meridian-edge"}
        ]


def test_the_lease_is_pre_created_without_a_renewal() -> None:
    lease = by_kind("n")["Lease"]
    assert lease["spec"] == {"holderIdentity": "n", "leaseDurationSeconds": 50}


def test_the_kubeconfig_carries_the_token_and_the_ca() -> None:
    at = credentials.Endpoint("https://127.0.0.1:6443", "Q0E=")
    config = yaml.safe_load(credentials.kubeconfig("n1", at, "tok"))
    assert config["users"][0]["user"] == {"token": "tok"}
    assert config["clusters"][0]["cluster"]["certificate-authority-data"] == "Q0E="
    assert config["contexts"][0]["context"]["namespace"] == edgenode.EDGE_NAMESPACE


def test_a_token_is_renewed_once_a_third_of_its_life_is_left() -> None:
    settings = EdgeNodeSettings(token_ttl_s=3 * 3600)
    now = datetime.datetime(2026, 11, 27, tzinfo=datetime.UTC)
    assert credentials.needs_renewal(None, now, settings)
    assert not credentials.needs_renewal(
        now + datetime.timedelta(hours=1, minutes=1), now, settings
    )
    assert credentials.needs_renewal(now + datetime.timedelta(minutes=59), now, settings)


def test_site_overrides_are_read_as_json_and_take_precedence(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MERIDIAN_OPERATOR_EDGE_SITE_GRACE_S", '{"sgp1": 90}')
    monkeypatch.setenv("MERIDIAN_OPERATOR_EDGE_SITE_MAX_UNAVAILABLE", '{"nyc1": 2}')
    settings = EdgeNodeSettings()
    assert settings.grace_for("sgp1") == 90
    assert settings.grace_for("nyc1") == 50
    assert settings.max_unavailable_for("nyc1") == 2
    assert settings.failure_budget_for("nyc1") == 0
