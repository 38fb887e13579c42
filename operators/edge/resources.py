"""The objects that make up one node's identity, rendered from its name (pure: no I/O).

In `meridian-edge`: the ServiceAccount, the pre-created Lease (`create` cannot be limited by
resourceNames, so the agent gets only get/update on this one), a Role over that Lease alone and
its RoleBinding. Cluster-wide: a ClusterRole over the node's own EdgeNode (get/list/watch, the
list and watch only as a single-name fieldSelector) and its status (get/patch/update), and its
ClusterRoleBinding. Nothing else: the agent cannot read Secrets, other nodes, or other Leases.
Every object is labelled and owned by the EdgeNode (garbage collection is the safety net behind
the finalizer, which deletes them itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from meridian.core.api.v1alpha1 import GROUP, VERSION, edgenode

MANAGED_BY = edgenode.OPERATOR_OWNER
NODE_LABEL = "edge.meridian.io/node"
SELECTOR = {"app.kubernetes.io/managed-by": MANAGED_BY}
NAMESPACE = edgenode.EDGE_NAMESPACE

Manifest = dict[str, Any]


def labels(node: str) -> dict[str, str]:
    return {NODE_LABEL: node, **SELECTOR, "app.kubernetes.io/part-of": "meridian"}


def metadata(node: str, name: str, owner_uid: str, *, namespaced: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": name,
        "labels": labels(node),
        "ownerReferences": [
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": edgenode.KIND.kind,
                "name": node,
                "uid": owner_uid,
            }
        ],
    }
    if namespaced:
        meta["namespace"] = NAMESPACE
    return meta


def agent_rules(node: str) -> tuple[list[Manifest], list[Manifest]]:
    """(the Role's rules in meridian-edge, the ClusterRole's rules): exactly the agent's needs."""
    lease = [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": [edgenode.lease_name(node)],
            "verbs": ["get", "update"],
        }
    ]
    own = [
        {
            "apiGroups": [GROUP],
            "resources": [edgenode.KIND.plural],
            "resourceNames": [node],
            "verbs": ["get", "list", "watch"],
        },
        {
            "apiGroups": [GROUP],
            "resources": [f"{edgenode.KIND.plural}/status"],
            "resourceNames": [node],
            "verbs": ["get", "patch", "update"],
        },
    ]
    return lease, own


def lease(node: str, owner_uid: str, grace_s: float) -> Manifest:
    """The heartbeat Lease, empty until the agent's first renewal (no renewTime: never seen)."""
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": metadata(node, edgenode.lease_name(node), owner_uid),
        "spec": {"holderIdentity": node, "leaseDurationSeconds": int(grace_s)},
    }


def render(node: str, owner_uid: str, grace_s: float) -> list[Manifest]:
    """Every object of the node's identity but the bootstrap Secret (which holds a token)."""
    account = edgenode.service_account_name(node)
    cluster_role = edgenode.cluster_role_name(node)
    role_rules, cluster_rules = agent_rules(node)
    subject = [{"kind": "ServiceAccount", "name": account, "namespace": NAMESPACE}]
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": metadata(node, account, owner_uid),
        },
        lease(node, owner_uid, grace_s),
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": metadata(node, account, owner_uid),
            "rules": role_rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": metadata(node, account, owner_uid),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": account},
            "subjects": subject,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": metadata(node, cluster_role, owner_uid, namespaced=False),
            "rules": cluster_rules,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": metadata(node, cluster_role, owner_uid, namespaced=False),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": cluster_role,
            },
            "subjects": subject,
        },
    ]


def contains(live: Any, desired: Any) -> bool:
    """Whether `live` holds everything `desired` says (the server adds defaults and fields)."""
    if isinstance(desired, Mapping):
        return isinstance(live, Mapping) and all(
            key in live and contains(live[key], value) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(live) == len(desired)
            and all(contains(a, b) for a, b in zip(live, desired, strict=True))
        )
    return bool(live == desired)
