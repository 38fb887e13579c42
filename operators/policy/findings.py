"""What one audit scan finds: every policy evaluated over a snapshot of existing objects.

Pure: `evaluate(snapshot, modes, sites)` takes the objects as the apiserver listed them, so the
rules are unit-tested without a cluster. Pods, ReplicaSets and Jobs that a controller owns are
left to their owner (a Deployment's violation is reported once, on the Deployment, not on each
of its pods). The system namespaces are not audited (kube-system and friends run the platform).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from meridian.core.policy import kinds, predicates, workloads
from meridian.core.policy.catalogue import Mode
from meridian.core.policy.violations import Violation

SYSTEM_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
OWNED_KINDS = frozenset({("", "Pod"), ("apps", "ReplicaSet"), ("batch", "Job")})


@dataclass
class Snapshot:
    """Every object a scan reads, as dicts: workloads by (group, kind), and the rest."""

    workloads: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    namespaces: list[str] = field(default_factory=list)
    pdbs: list[dict[str, Any]] = field(default_factory=list)
    network_policies: list[dict[str, Any]] = field(default_factory=list)
    edge_nodes: list[dict[str, Any]] = field(default_factory=list)


class Finding(NamedTuple):
    namespace: str  # "" for a cluster-scoped object (the ClusterPolicyReport)
    resource: dict[str, str]  # apiVersion, kind, name, namespace, uid
    violation: Violation
    mode: Mode

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.violation.policy.name, self.resource.get("uid", ""), self.violation.field)


class Scan(NamedTuple):
    findings: list[Finding]
    checked: dict[str, int]  # namespace ("" cluster) -> (object, policy) pairs evaluated


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _owned(obj: Mapping[str, Any]) -> bool:
    return any(ref.get("controller") for ref in _meta(obj).get("ownerReferences") or [])


def reference(api_version: str, kind: str, obj: Mapping[str, Any]) -> dict[str, str]:
    meta = _meta(obj)
    ref = {"apiVersion": api_version, "kind": kind, "name": str(meta.get("name", ""))}
    if meta.get("namespace"):
        ref["namespace"] = str(meta["namespace"])
    if meta.get("uid"):
        ref["uid"] = str(meta["uid"])
    return ref


def evaluate(snapshot: Snapshot, modes: Mapping[str, Mode], sites: Sequence[str]) -> Scan:
    findings: list[Finding] = []
    checked: dict[str, int] = {}
    with_policy = {str(_meta(p).get("namespace")) for p in snapshot.network_policies}
    pdbs: dict[str, list[dict[str, Any]]] = {}
    for pdb in snapshot.pdbs:
        pdbs.setdefault(str(_meta(pdb).get("namespace")), []).append(pdb)

    def found(namespace: str, ref: dict[str, str], violation: Violation | None) -> None:
        if violation is not None:
            policy = violation.policy
            findings.append(Finding(namespace, ref, violation, modes.get(policy.name, policy.mode)))

    for (group, kind), objects in sorted(snapshot.workloads.items()):
        api_version = f"{group}/v1" if group else "v1"
        for obj in objects:
            namespace = str(_meta(obj).get("namespace", ""))
            if namespace in SYSTEM_NAMESPACES or ((group, kind) in OWNED_KINDS and _owned(obj)):
                continue
            ref = reference(api_version, kind, obj)
            violations: list[Violation | None] = [*predicates.violations(group, kind, obj)]
            violations.append(
                workloads.network_policy_violation(namespace, namespace in with_policy)
            )
            checks = len(predicates.RULES) + 1
            if (group, kind) == ("apps", "Deployment"):
                checks += 1
                with contextlib.suppress(workloads.BadObject):  # the apiserver validated it
                    if workloads.needs_pdb(obj):
                        namespace_pdbs = pdbs.get(namespace, [])
                        violations.append(workloads.pdb_violation(obj, namespace, namespace_pdbs))
            for violation in violations:
                found(namespace, ref, violation)
            checked[namespace] = checked.get(namespace, 0) + checks

    for node in snapshot.edge_nodes:
        ref = reference("meridian.io/v1alpha1", "EdgeNode", node)
        for violation in kinds.edge_site(node, sites):
            found("", ref, violation)
        checked[""] = checked.get("", 0) + 1
    for namespace in snapshot.namespaces:
        if namespace not in SYSTEM_NAMESPACES:
            checked.setdefault(namespace, 0)
    checked.setdefault("", 0)
    return Scan(findings, checked)
