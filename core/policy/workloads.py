"""The two catalogue policies that need other objects, as pure rules over already-fetched data:
the webhook applies them at admission, the audit controller to what exists.

`meridian-network-policy`: a workload (a Pod or any pod controller) may be created only in a
namespace that has a NetworkPolicy. `meridian-pdb-required`: a Deployment with more than one
replica needs a PodDisruptionBudget in its namespace whose selector matches its pod labels.

A Deployment and its PDB in one `kubectl apply`: kubectl creates objects in file order, so the
PDB must come first (a PDB selecting no pod yet is harmless); the denial says so. We do not admit
the Deployment and wait for the PDB: admission cannot look ahead, and a grace period would let a
Deployment without a PDB stand forever when its PDB never comes (the audit report would be the
only trace).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from meridian.core.policy import catalogue, selectors
from meridian.core.policy.violations import Violation

NETWORK_POLICY = catalogue.get("meridian-network-policy")
PDB_REQUIRED = catalogue.get("meridian-pdb-required")

# (API group, kind) of every object that makes pods.
WORKLOADS = frozenset(
    {
        ("", "Pod"),
        ("apps", "Deployment"),
        ("apps", "StatefulSet"),
        ("apps", "DaemonSet"),
        ("apps", "ReplicaSet"),
        ("batch", "Job"),
        ("batch", "CronJob"),
    }
)


class BadObject(ValueError):
    """A field has a type the apiserver would never send; reported as the violation itself."""


def _mapping(value: Any, path: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise BadObject(f"{path} must be an object")
    return value


def replicas(deployment: Mapping[str, Any]) -> int:
    """spec.replicas, 1 when unset (the apiserver's default)."""
    value = _mapping(deployment.get("spec"), "spec").get("replicas", 1)
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadObject("spec.replicas must be an integer")
    return value


def pod_labels(deployment: Mapping[str, Any]) -> dict[str, str]:
    spec = _mapping(deployment.get("spec"), "spec")
    template = _mapping(spec.get("template"), "spec.template")
    labels = _mapping(
        _mapping(template.get("metadata"), "spec.template.metadata").get("labels"),
        "spec.template.metadata.labels",
    )
    return {str(key): str(value) for key, value in labels.items()}


def needs_pdb(deployment: Mapping[str, Any]) -> bool:
    return replicas(deployment) > 1


def pdb_violation(
    deployment: Mapping[str, Any], namespace: str, pdbs: Sequence[Mapping[str, Any]]
) -> Violation | None:
    """None when a PDB of `pdbs` (the namespace's) selects the Deployment's pod labels."""
    labels = pod_labels(deployment)
    for pdb in pdbs:
        selector = _mapping(pdb.get("spec"), "spec").get("selector")
        if isinstance(selector, Mapping) and selectors.matches(selector, labels):
            return None
    shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "no labels"
    return Violation(
        PDB_REQUIRED,
        "spec.replicas",
        f"{replicas(deployment)} replicas but no PodDisruptionBudget in namespace {namespace} "
        f"selects the pod labels ({shown}); in one apply, put the PDB before the Deployment",
    )


def network_policy_violation(namespace: str, has_network_policy: bool) -> Violation | None:
    if has_network_policy:
        return None
    return Violation(
        NETWORK_POLICY,
        "metadata.namespace",
        f"namespace {namespace} has no NetworkPolicy",
    )
