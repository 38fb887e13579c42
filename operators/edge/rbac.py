"""What the EdgeNode operator may do beyond its own kind (next to the code that needs it).

It provisions each node's identity: ServiceAccount, Lease, Role/RoleBinding in meridian-edge,
ClusterRole/ClusterRoleBinding, the bootstrap Secret and a TokenRequest for the account. The
apiserver lets it grant only what it holds itself (RBAC escalation check), hence `update` on
Leases; it never needs to list or watch Secrets (it reads its nodes' Secrets by name).
"""

from __future__ import annotations

from meridian.core.api.v1alpha1 import edgenode
from meridian.operators.machinery import rbac

WATCHED = ("get", "list", "watch", "create", "patch", "delete")

RULES: tuple[rbac.Rule, ...] = (
    rbac.rule("", ["namespaces"], ["get", "patch"], resourceNames=[edgenode.EDGE_NAMESPACE]),
    rbac.rule("", ["namespaces"], ["create"]),
    rbac.rule("", ["serviceaccounts"], WATCHED),
    rbac.rule("", ["serviceaccounts/token"], ["create"]),
    rbac.rule("", ["secrets"], ["get", "create", "patch", "delete"]),
    rbac.rule("coordination.k8s.io", ["leases"], (*WATCHED, "update")),
    rbac.rule("rbac.authorization.k8s.io", ["roles", "rolebindings"], WATCHED),
    rbac.rule("rbac.authorization.k8s.io", ["clusterroles", "clusterrolebindings"], WATCHED),
)
