"""The audit controller, under its own least-privilege RBAC, on the real apiserver: an existing
violation appears in its namespace's PolicyReport within one audit interval (counted in metrics,
posted as an Event), follows a mode change at once, and disappears once fixed.

The violation is a Deployment of 3 replicas without a PodDisruptionBudget, created while the
webhook is not registered (as before the policy existed): the in-apiserver policies would refuse
a violation of theirs at creation, and the apiserver itself refuses privileged pods."""

from __future__ import annotations

import argparse
import json
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from meridian import plugin
from meridian.localplatform import platform
from meridian.localplatform.processes import Supervisor
from meridian.operators.machinery import rbac
from meridian.operators.policy import reports
from meridian.plugin import policy_report
from tests import admission as adm
from tests import kubeconfigs

pytestmark = pytest.mark.platform

NAMESPACE = "meridian-system"
INTERVAL_S = 15
POLICY = "meridian-pdb-required"


@pytest.fixture(scope="module")
def audit_metrics(
    local_platform: platform.PlatformState, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The audit controller alone, as its own ServiceAccount; yields its /metrics URL."""
    service_account = f"policy-{uuid.uuid4().hex[:6]}"
    assert adm.apply(local_platform, adm.namespace(NAMESPACE)).ok
    manifest = yaml.safe_dump_all(
        rbac.manifests(["policy"], namespace=NAMESPACE, service_account=service_account)
    )
    platform.kubectl(local_platform, "apply", "-f", "-", stdin=manifest)
    folder = tmp_path_factory.mktemp("policy-audit")
    kubeconfig = folder / "sa.kubeconfig"
    kubeconfigs.token_kubeconfig(local_platform, NAMESPACE, service_account, str(kubeconfig))
    supervisor = Supervisor(folder / "run")
    try:
        ports = platform.start_operators(
            local_platform,
            supervisor=supervisor,
            name="policy-audit",
            only="policy",
            env={
                "KUBECONFIG": str(kubeconfig),
                "MERIDIAN_OPERATOR_PEERING_NAME": service_account,
                "MERIDIAN_OPERATOR_POLICY_INTERVAL_S": str(INTERVAL_S),
                "MERIDIAN_OPERATOR_POLICY_MODES_POLL_S": "1",
            },
        )
        yield f"http://127.0.0.1:{ports.metrics}/metrics"
        log = supervisor.log_tail("policy-audit", lines=10_000)
        assert "Forbidden" not in log
        assert "Audit failed" not in log
    finally:
        supervisor.stop_all()
        platform.kubectl(local_platform, "delete", "-f", "-", "--ignore-not-found", stdin=manifest)
        platform.kubectl(
            local_platform,
            "delete",
            "clusterkopfpeering",
            f"{service_account}-policy",
            "--ignore-not-found",
        )


def _report(state: platform.PlatformState, ns: str) -> dict[str, Any] | None:
    got = adm.kubectl(
        state, "get", "policyreports.wgpolicyk8s.io", reports.NAME, "-n", ns, "-o", "json"
    )
    return json.loads(got.stdout) if got.ok else None


def _result(
    state: platform.PlatformState, ns: str, policy: str, name: str
) -> dict[str, Any] | None:
    report = _report(state, ns)
    for result in (report or {}).get("results", []):
        if result["policy"] == policy and result["resources"][0]["name"] == name:
            return dict(result)
    return None


def _metric(url: str, name: str, **labels: str) -> float:
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _policy_report(
    state: platform.PlatformState, capsys: pytest.CaptureFixture[str], *argv: str
) -> str:
    """`kubectl meridian policy report ARGV` (its parser, as the policy group adds it)."""
    parser = argparse.ArgumentParser()
    policy_report.add_report(parser.add_subparsers(required=True), [plugin.common_options()])
    args = parser.parse_args(["report", *argv, "--kubeconfig", state.kubeconfig])
    capsys.readouterr()
    assert args.handler(args) == 0
    return capsys.readouterr().out


def test_an_existing_violation_is_reported_counted_and_posted_then_gone_once_fixed(
    local_platform: platform.PlatformState,
    audit_metrics: str,
    namespace_name: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    ns, name = namespace_name, "web"
    assert adm.apply(local_platform, adm.namespace(ns), adm.network_policy(ns)).ok
    try:
        assert adm.apply(local_platform, adm.deployment(ns, name=name, replicas=3)).ok
        found = adm.poll(
            lambda: _result(local_platform, ns, POLICY, name),
            what="the violation in the PolicyReport",
            within=INTERVAL_S + 15,
        )
        assert found["result"] == "fail"
        assert found["properties"]["field"] == "spec.replicas"
        assert found["timestamp"]["seconds"] > 0
        assert _metric(audit_metrics, "meridian_policy_violations", policy=POLICY) >= 1
        events = adm.kubectl(
            local_platform,
            "get",
            "events",
            "-n",
            ns,
            "--field-selector",
            "reason=PolicyViolation",
            "-o",
            "json",
        )
        assert any(e["involvedObject"]["name"] == name for e in json.loads(events.stdout)["items"])
        printed = _policy_report(local_platform, capsys, "-n", ns)
        assert [ns, POLICY, "fail", "1", f"Deployment/{name}"] in [
            line.split() for line in printed.splitlines()
        ]

        assert adm.apply(local_platform, adm.pdb(ns, name=name)).ok
        adm.poll(
            lambda: True if _result(local_platform, ns, POLICY, name) is None else None,
            what="the fixed violation gone from the PolicyReport",
            within=INTERVAL_S + 15,
        )
        report = _report(local_platform, ns)
        assert report is not None
        assert report["summary"]["fail"] == 0
        assert report["summary"]["pass"] > 0
        assert _policy_report(local_platform, capsys, "-n", ns).startswith("No violations reported")
    finally:
        adm.kubectl(local_platform, "delete", "namespace", ns, "--wait=false")


def test_a_mode_change_is_reported_without_waiting_for_the_interval(
    local_platform: platform.PlatformState, audit_metrics: str, namespace_name: str
) -> None:
    ns, name = namespace_name, "web"
    assert adm.apply(local_platform, adm.namespace(ns), adm.network_policy(ns)).ok
    try:
        assert adm.apply(local_platform, adm.deployment(ns, name=name, replicas=3)).ok
        adm.poll(
            lambda: _result(local_platform, ns, POLICY, name),
            what="the violation in the PolicyReport",
            within=INTERVAL_S + 15,
        )
        adm.set_modes(local_platform, {POLICY: "Audit"})
        warned = adm.poll(
            lambda: (
                ((r := _result(local_platform, ns, POLICY, name)) and r["result"] == "warn" and r)
                or None
            ),
            what="the result following the Audit mode",
            within=INTERVAL_S / 2,
        )
        assert warned["properties"]["mode"] == "Audit"
    finally:
        adm.set_modes(local_platform, {})
        adm.kubectl(local_platform, "delete", "namespace", ns, "--wait=false")
