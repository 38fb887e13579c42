"""One audit pass: list what exists, evaluate every policy, write the reports that changed, count
the violations in metrics and post Events for the ones not seen before.

`Auditor` keeps what the previous pass found (first-seen times, the last report written per
namespace), so a steady cluster costs the list calls and no writes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import prometheus_client
from lightkube import ApiError, AsyncClient, codecs
from lightkube.generic_resource import create_global_resource, create_namespaced_resource
from lightkube.resources.apps_v1 import DaemonSet, Deployment, ReplicaSet, StatefulSet
from lightkube.resources.batch_v1 import CronJob, Job
from lightkube.resources.core_v1 import ConfigMap, Namespace, Pod
from lightkube.resources.networking_v1 import NetworkPolicy
from lightkube.resources.policy_v1 import PodDisruptionBudget

from meridian.core import events, kube
from meridian.core.policy import catalogue
from meridian.core.policy.catalogue import Mode
from meridian.core.runtime import logging as meridian_logging
from meridian.operators.policy import findings, reports
from meridian.operators.policy.settings import PolicySettings

log = meridian_logging.get_logger("meridian.operators.policy")

PolicyReport = create_namespaced_resource(
    "wgpolicyk8s.io", "v1alpha2", "PolicyReport", "policyreports"
)
ClusterPolicyReport = create_global_resource(
    "wgpolicyk8s.io", "v1alpha2", "ClusterPolicyReport", "clusterpolicyreports"
)

WORKLOADS: dict[tuple[str, str], Any] = {
    ("", "Pod"): Pod,
    ("apps", "Deployment"): Deployment,
    ("apps", "StatefulSet"): StatefulSet,
    ("apps", "DaemonSet"): DaemonSet,
    ("apps", "ReplicaSet"): ReplicaSet,
    ("batch", "Job"): Job,
    ("batch", "CronJob"): CronJob,
}

VIOLATIONS = prometheus_client.Gauge(
    "meridian_policy_violations",
    "Violations of existing objects found by the last audit, by policy and its mode then.",
    ["policy", "mode"],
)
SCANS = prometheus_client.Counter(
    "meridian_policy_audit_scans_total", "Audit passes, by result (ok, error).", ["result"]
)
LAST_SCAN = prometheus_client.Gauge(
    "meridian_policy_audit_last_scan_timestamp_seconds",
    "When the last audit pass finished (alert when it stops moving: reports stale).",
)


def plain(item: Any) -> dict[str, Any]:
    """A listed object as JSON-shaped dicts (typed models and generic resources alike)."""
    converted: dict[str, Any] = item.to_dict()
    return converted


async def _dicts(api: AsyncClient, resource: Any) -> list[dict[str, Any]]:
    return [plain(item) async for item in api.list(resource, namespace="*")]


async def snapshot(api: AsyncClient) -> findings.Snapshot:
    taken = findings.Snapshot()
    for key, resource in WORKLOADS.items():
        taken.workloads[key] = await _dicts(api, resource)
    taken.namespaces = [
        ns.metadata.name async for ns in api.list(Namespace) if ns.metadata and ns.metadata.name
    ]
    taken.pdbs = await _dicts(api, PodDisruptionBudget)
    taken.network_policies = await _dicts(api, NetworkPolicy)
    taken.edge_nodes = [plain(node) async for node in api.list(kube.RESOURCES["EdgeNode"])]
    return taken


async def modes(api: AsyncClient) -> tuple[dict[str, str] | None, dict[str, Mode]]:
    """The modes ConfigMap's data (None when absent) and each policy's live mode."""
    try:
        configmap = await api.get(
            ConfigMap, catalogue.MODES_CONFIGMAP, namespace=catalogue.MODES_NAMESPACE
        )
    except ApiError as error:
        if error.status.code != 404:
            raise
        return None, catalogue.live_modes(None)
    return configmap.data, catalogue.live_modes(configmap.data)


class Auditor:
    def __init__(self, api: AsyncClient, settings: PolicySettings) -> None:
        self.api = api
        self.settings = settings
        self.first_seen: dict[tuple[str, str, str], int] = {}
        self.written: dict[str, dict[str, Any]] = {}

    async def run_once(self) -> findings.Scan:
        _data, live = await modes(self.api)
        scan = findings.evaluate(await snapshot(self.api), live, self.settings.edge_sites)
        now = int(time.time())
        seen = {finding.key for finding in scan.findings}
        new = [finding for finding in scan.findings if finding.key not in self.first_seen]
        self.first_seen = {key: self.first_seen.get(key, now) for key in seen}
        by_namespace: dict[str, list[findings.Finding]] = {ns: [] for ns in scan.checked}
        for finding in scan.findings:
            by_namespace.setdefault(finding.namespace, []).append(finding)
        for namespace, found in by_namespace.items():
            report = reports.render(
                namespace,
                found,
                checked=scan.checked.get(namespace, 0),
                first_seen=self.first_seen,
                max_results=self.settings.max_results,
            )
            if self.written.get(namespace) != report:
                await self._write(report)
                self.written[namespace] = report
        self._count(scan)
        await self._post_events(new)
        LAST_SCAN.set(time.time())
        log.info(
            "Audit finished",
            violations=len(scan.findings),
            new=len(new),
            namespaces=len(by_namespace),
        )
        return scan

    async def _write(self, report: Mapping[str, Any]) -> None:
        try:
            await self.api.apply(codecs.from_dict(dict(report)), force=True)
        except ApiError as error:
            if error.status.code == 404 and report["metadata"].get("namespace"):
                return  # its namespace is being deleted: nothing left to report on
            raise

    def _count(self, scan: findings.Scan) -> None:
        counts = {(p.name, str(mode)): 0 for p in catalogue.POLICIES for mode in Mode}
        for finding in scan.findings:
            key = (finding.violation.policy.name, str(finding.mode))
            counts[key] = counts.get(key, 0) + 1
        for (policy, mode), count in counts.items():
            VIOLATIONS.labels(policy=policy, mode=mode).set(count)

    async def _post_events(self, new: list[findings.Finding]) -> None:
        for finding in new[: self.settings.max_events]:
            ref = finding.resource
            body = {
                "apiVersion": ref["apiVersion"],
                "kind": ref["kind"],
                "metadata": {k: ref[k] for k in ("name", "namespace", "uid") if k in ref},
            }
            try:
                await events.post(
                    self.api,
                    body,
                    type="Warning" if finding.mode is Mode.ENFORCE else "Normal",
                    reason="PolicyViolation",
                    message=finding.violation.text(),
                    component="meridian-policy-audit",
                )
            except ApiError as error:
                log.warning(
                    "Event not posted", failure=str(error.status.message), object=ref["name"]
                )
