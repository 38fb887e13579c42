"""The EdgeNode operator's view of what it owns: kopf indexes over the objects it labels (the
Leases excepted: the operator's own Lease watch, `leases`, knows which exist and when they change;
a fleet's renewals are too many events for kopf's per-object machinery).

Reconciles compare the rendered identity with these in-memory views and write only what is
missing or changed, so a converged fleet costs no API calls on resync.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from meridian.operators.edge import resources
from meridian.operators.machinery import wiring

OWNED: tuple[wiring.OwnedKind, ...] = (
    wiring.OwnedKind("", "v1", "serviceaccounts", "ServiceAccount"),
    wiring.OwnedKind("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    wiring.OwnedKind("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    wiring.OwnedKind("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole"),
    wiring.OwnedKind(
        "rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding"
    ),
)

Indexes = Mapping[str, kopf.Index[Any, Any]]


def index_id(kind: str) -> str:
    return f"edge_owned_{kind.lower()}"


def snapshot(body: kopf.Body) -> dict[str, Any]:
    """What we keep of an owned object: everything but status and managedFields."""
    kept = {key: value for key, value in body.items() if key != "status"}
    kept["metadata"] = {
        key: value for key, value in body.get("metadata", {}).items() if key != "managedFields"
    }
    return kept


def lookup(indexes: Indexes, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
    store = indexes[index_id(kind)].get((namespace or "", name))
    return next(iter(store), None) if store else None


def register(registry: kopf.OperatorRegistry) -> None:
    """Indexes over the owned kinds (kopf fills them before any handler runs)."""

    def index_owned(body: kopf.Body, **_: Any) -> dict[tuple[str, str], dict[str, Any]]:
        meta = body.get("metadata", {})
        return {(meta.get("namespace") or "", meta["name"]): snapshot(body)}

    for owned in OWNED:
        kopf.index(
            owned.group,
            owned.version,
            owned.plural,
            labels=resources.SELECTOR,
            id=index_id(owned.kind),
            registry=registry,
        )(index_owned)
