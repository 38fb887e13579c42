"""The audit's evaluation of existing objects and the wg-policy reports it renders."""

from __future__ import annotations

import json
from typing import Any

from meridian.core.policy import catalogue
from meridian.core.policy.catalogue import Mode
from meridian.operators.policy import findings, reports
from tests import policy_fixtures


def _deployment(ns: str, name: str, spec: dict[str, Any], replicas: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}"},
        "spec": {
            "replicas": replicas,
            "template": {"metadata": {"labels": {"app": name}}, "spec": spec},
        },
    }


def _pod(ns: str, name: str, owned: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": ns, "uid": f"uid-{name}"}
    if owned:
        meta["ownerReferences"] = [{"kind": "ReplicaSet", "name": "rs", "controller": True}]
    return {"metadata": meta, "spec": policy_fixtures.VIOLATING["meridian-no-privileged"][0]}


def _snapshot(**workloads: list[dict[str, Any]]) -> findings.Snapshot:
    return findings.Snapshot(
        workloads={
            ("apps", "Deployment"): workloads.get("deployments", []),
            ("", "Pod"): workloads.get("pods", []),
        },
        namespaces=["a", "b", "kube-system"],
        network_policies=[{"metadata": {"namespace": "a"}}],
    )


def _modes() -> dict[str, Mode]:
    return catalogue.live_modes(None)


def test_violations_are_found_per_object_and_owned_pods_are_left_to_their_owner() -> None:
    snapshot = _snapshot(
        deployments=[_deployment("a", "web", policy_fixtures.COMPLIANT, replicas=3)],
        pods=[_pod("a", "mine", owned=True), _pod("b", "loose"), _pod("kube-system", "system")],
    )
    scan = findings.evaluate(snapshot, _modes(), ("nyc1",))
    found = {(f.resource["name"], f.violation.policy.name) for f in scan.findings}
    assert found == {
        ("web", "meridian-pdb-required"),
        ("loose", "meridian-no-privileged"),
        ("loose", "meridian-network-policy"),
    }
    assert set(scan.checked) == {"a", "b", ""}


def test_an_edge_node_at_an_unknown_site_is_a_cluster_finding() -> None:
    snapshot = findings.Snapshot(
        edge_nodes=[{"metadata": {"name": "e1", "uid": "u"}, "spec": {"site": "lax9"}}]
    )
    [finding] = findings.evaluate(snapshot, _modes(), ("nyc1",)).findings
    assert finding.namespace == ""
    assert finding.resource["kind"] == "EdgeNode"


def _report(mode: Mode, count: int, max_results: int = 100) -> dict[str, Any]:
    pods = [_pod("b", f"p{i}") for i in range(count)]
    modes = {**_modes(), "meridian-no-privileged": mode}
    scan = findings.evaluate(_snapshot(pods=pods), modes, ())
    mine = [f for f in scan.findings if f.namespace == "b"]
    first_seen = {f.key: 1_700_000_000 for f in mine}
    return reports.render(
        "b", mine, checked=scan.checked["b"], first_seen=first_seen, max_results=max_results
    )


def test_a_report_lists_enforce_violations_as_fail_and_audit_ones_as_warn() -> None:
    enforced = _report(Mode.ENFORCE, 1)
    assert enforced["kind"] == "PolicyReport"
    assert enforced["metadata"]["namespace"] == "b"
    by_policy = {r["policy"]: r for r in enforced["results"]}
    privileged = by_policy["meridian-no-privileged"]
    assert privileged["result"] == "fail"
    assert privileged["timestamp"] == {"seconds": 1_700_000_000, "nanos": 0}
    assert privileged["resources"] == [
        {"apiVersion": "v1", "kind": "Pod", "name": "p0", "namespace": "b", "uid": "uid-p0"}
    ]
    assert privileged["properties"] == {"field": "spec.containers[0]", "mode": "Enforce"}
    audited = _report(Mode.AUDIT, 1)
    assert {r["policy"]: r["result"] for r in audited["results"]}[
        "meridian-no-privileged"
    ] == "warn"


def test_a_report_beyond_its_bound_lists_max_results_and_counts_them_all() -> None:
    report = _report(Mode.ENFORCE, 300, max_results=100)
    assert len(report["results"]) == 100
    assert report["summary"]["fail"] == 600  # privileged and no NetworkPolicy, 300 pods each
    assert report["metadata"]["annotations"][reports.OMITTED] == "500"


def test_a_bounded_report_of_long_messages_stays_far_below_etcds_object_limit() -> None:
    report = _report(Mode.ENFORCE, 1000, max_results=100)
    for result in report["results"]:
        result["message"] = "x" * reports.MAX_MESSAGE
        result["resources"][0]["name"] = "n" * 253
    assert len(json.dumps(report).encode()) < 1_572_864 // 8
