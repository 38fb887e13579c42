"""What the platform itself creates passes every policy in Enforce, with the webhook registered
before any of it, as `make up` does: the examples, a Tenant's namespace and its contents (written
by the Tenant operator), a ServiceRelease's Services, PDB, HPA, HTTPRoute, Deployments and pods on
kwok's nodes (written by the release operator). Nothing is refused, and the audit controller,
started afterwards so its first scan covers all of it, reports no failure in those namespaces."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from meridian.core.policy import catalogue
from meridian.localplatform import platform
from meridian.localplatform.processes import Supervisor
from tests import admission as adm

pytestmark = pytest.mark.platform

OPERATORS = "platform-operators"
AUDIT = "platform-audit"
TENANT = "acme"
TENANT_NAMESPACE = f"tenant-{TENANT}"
CHECKED_NAMESPACES = (TENANT_NAMESPACE, "meridian-prod", "meridian-system")


@pytest.fixture(scope="module")
def supervisor(local_platform: platform.PlatformState) -> Iterator[Supervisor]:
    supervisor = Supervisor(Path(local_platform.run_dir) / "e2e-platform-admission")
    yield supervisor
    supervisor.stop_all()


@pytest.fixture(scope="module")
def webhook(local_platform: platform.PlatformState) -> Iterator[str]:
    """Every policy in Enforce (the webhook's two read the modes ConfigMap; the five CEL ones'
    bindings are generated in their catalogue mode), then the webhook registered."""
    adm.set_modes(
        local_platform, {p.name: catalogue.Mode.ENFORCE.value for p in catalogue.POLICIES}
    )
    yield from adm.running_webhook(local_platform)


def _get(state: platform.PlatformState, *args: str) -> dict[str, Any] | None:
    found = adm.kubectl(state, "get", *args, "-o", "json")
    return json.loads(found.stdout) if found.ok else None


def _items(state: platform.PlatformState, *args: str) -> list[dict[str, Any]]:
    return list((_get(state, *args) or {}).get("items", []))


def _ready_pods(state: platform.PlatformState, namespace: str, release: str) -> int | None:
    """How many of a release's pods are Ready; None while none is."""
    pods = _get(state, "pods", "-n", namespace, "-l", f"app.kubernetes.io/instance={release}")
    items = (pods or {}).get("items", [])
    ready = [
        pod
        for pod in items
        if any(
            c["type"] == "Ready" and c["status"] == "True"
            for c in pod.get("status", {}).get("conditions", [])
        )
    ]
    return len(ready) or None


def _release(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "meridian.io/v1alpha1",
        "kind": "ServiceRelease",
        "metadata": {"name": "orders", "namespace": namespace},
        "spec": {
            "service": "orders",
            "image": "ghcr.io/meridian/orders:1.0.0",
            "replicas": 2,
            "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
            "disruptionBudget": {"maxUnavailable": 1},
            "route": "/v1/acme-orders",
            "progressDeadlineSeconds": 60,
            "strategy": {"type": "RollingUpdate"},
        },
    }


def test_everything_the_platform_creates_is_admitted_and_audited_clean(
    local_platform: platform.PlatformState, webhook: str, supervisor: Supervisor
) -> None:
    bindings = _get(local_platform, "validatingadmissionpolicybindings")
    assert bindings is not None
    actions = {
        b["metadata"]["name"]: b["spec"]["validationActions"]
        for b in bindings["items"]
        if b["metadata"]["name"].startswith("meridian-")
    }
    assert sorted(actions.values()) == [["Deny"]] * 5, actions

    env = {"MERIDIAN_OPERATOR_RELEASE_TICK_S": "1", "MERIDIAN_OPERATOR_RESYNC_S": "1"}
    platform.start_operators(
        local_platform, supervisor=supervisor, name=OPERATORS, only="tenant,release", env=env
    )

    applied = adm.kubectl(local_platform, "apply", "-f", str(adm.EXAMPLES))
    assert applied.ok, applied.stderr
    assert "Warning" not in applied.stderr, applied.stderr

    def tenant_ready() -> dict[str, Any] | None:
        tenant = _get(local_platform, "tenant", TENANT)
        status = (tenant or {}).get("status", {})
        return status if status.get("phase") == "Ready" else None

    adm.poll(tenant_ready, what=f"Tenant {TENANT} Ready", within=120)
    for kind in ("networkpolicy", "resourcequota", "limitrange", "rolebinding", "secret"):
        assert _items(local_platform, kind, "-n", TENANT_NAMESPACE), kind

    added = adm.apply(local_platform, _release(TENANT_NAMESPACE))
    assert added.ok, added.stderr
    assert "Warning" not in added.stderr, added.stderr
    for namespace, replicas in ((TENANT_NAMESPACE, 2), ("meridian-prod", 3)):
        adm.poll(
            lambda ns=namespace, n=replicas: (
                (_ready_pods(local_platform, ns, "orders") or 0) >= n or None
            ),
            what=f"{replicas} Ready pods of ServiceRelease {namespace}/orders",
            within=120,
        )
        for kind in ("deployment", "service", "poddisruptionbudget", "httproute"):
            assert _items(local_platform, kind, "-n", namespace), f"no {kind} in {namespace}"
    kwok = {n["metadata"]["name"] for n in _items(local_platform, "nodes", "-l", "type=kwok")}
    pods = _items(local_platform, "pods", "-n", TENANT_NAMESPACE)
    placed = {p["spec"].get("nodeName") for p in pods}
    assert placed <= kwok, placed

    log = supervisor.log_tail(OPERATORS, lines=100_000)
    assert "denied" not in log, log[-4000:]
    assert "the cluster refused" not in log, log[-4000:]

    platform.start_operators(
        local_platform,
        supervisor=supervisor,
        name=AUDIT,
        only="policy",
        env={"MERIDIAN_OPERATOR_POLICY_INTERVAL_S": "15"},
    )

    def report(*where: str) -> dict[str, Any] | None:
        return _get(local_platform, *where, "meridian-policy")

    reports = {namespace: ("policyreport", "-n", namespace) for namespace in CHECKED_NAMESPACES} | {
        "(cluster)": ("clusterpolicyreport",)
    }
    for where, args in reports.items():
        found = adm.poll(lambda a=args: report(*a), what=f"PolicyReport {where}", within=60)
        summary = found["summary"]
        assert (summary["fail"], summary["warn"]) == (0, 0), yaml.safe_dump(found)
        assert found["results"] == [], yaml.safe_dump(found)
        if where in (TENANT_NAMESPACE, "meridian-prod"):  # their releases' Deployments checked
            assert summary["pass"] > 0, summary
