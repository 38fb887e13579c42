"""What the Tenant operator may do beyond its own kind, and the ClusterRole it binds for admins.

Declared here, next to the code that provisions these objects (kubebuilder's markers); the
machinery adds them to `meridian-tenant-operator` and installs the tenant-admin ClusterRole.
"""

from __future__ import annotations

from typing import Any

from meridian.operators.machinery import rbac

TENANT_ADMIN_CLUSTER_ROLE = "meridian-tenant-admin"

RULES: tuple[rbac.Rule, ...] = (
    rbac.rule("", ["namespaces", "resourcequotas", "limitranges", "secrets"], rbac.OWN),
    rbac.rule("networking.k8s.io", ["networkpolicies"], rbac.OWN),
    rbac.rule("rbac.authorization.k8s.io", ["roles", "rolebindings"], rbac.OWN),
    # Binding the shared tenant-admin ClusterRole needs `bind` on exactly that role; a
    # per-tenant Role with the same rules would need `escalate`, cluster-wide.
    rbac.rule(
        "rbac.authorization.k8s.io",
        ["clusterroles"],
        ["bind"],
        resourceNames=[TENANT_ADMIN_CLUSTER_ROLE],
    ),
)

TENANT_ADMIN_RULES: list[rbac.Rule] = [
    rbac.rule("", ["pods", "pods/log", "services", "configmaps", "persistentvolumeclaims"], ["*"]),
    rbac.rule("apps", ["deployments", "statefulsets", "replicasets"], ["*"]),
    rbac.rule("batch", ["jobs", "cronjobs"], ["*"]),
    rbac.rule("autoscaling", ["horizontalpodautoscalers"], ["*"]),
    rbac.rule("policy", ["poddisruptionbudgets"], ["*"]),
    rbac.rule("", ["resourcequotas", "limitranges", "events"], ["get", "list", "watch"]),
    rbac.rule("networking.k8s.io", ["networkpolicies"], ["get", "list", "watch"]),
]


def tenant_admin_cluster_role() -> dict[str, Any]:
    """What a tenant's admins may do in their namespace (bound there by the Tenant operator)."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": TENANT_ADMIN_CLUSTER_ROLE,
            "labels": {"app.kubernetes.io/part-of": "meridian"},
        },
        "rules": TENANT_ADMIN_RULES,
    }
