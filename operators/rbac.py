"""Least-privilege RBAC for the operators, declared next to the code that needs it.

`cluster_role(name)` is what one operator may do; the chart binds it to that operator's
ServiceAccount and the e2e tests run the operator under exactly these rules against the real
apiserver (RBAC on), so a missing verb fails a test rather than a production rollout.
"""

from __future__ import annotations

from typing import Any

from meridian.core.api.v1alpha1 import GROUP, Kind, edgenode, failoverplan, servicerelease, tenant
from meridian.core.api.v1alpha1.meta import API_VERSION

TENANT_ADMIN_CLUSTER_ROLE = "meridian-tenant-admin"

KIND_OF_OPERATOR: dict[str, Kind] = {
    "tenant": tenant.KIND,
    "release": servicerelease.KIND,
    "failover": failoverplan.KIND,
    "edge": edgenode.KIND,
}

# What kopf itself needs: peering, resource discovery, namespace scanning, Events.
FRAMEWORK_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": ["kopf.dev"],
        "resources": ["clusterkopfpeerings"],
        "verbs": ["get", "list", "watch", "patch", "create"],
    },
    {
        "apiGroups": ["apiextensions.k8s.io"],
        "resources": ["customresourcedefinitions"],
        "verbs": ["list", "watch"],
    },
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create"]},
]


def kind_rules(kind: Kind) -> list[dict[str, Any]]:
    """Watch and annotate the kind (kopf's progress and finalizer live in metadata); write status."""
    return [
        {
            "apiGroups": [GROUP],
            "resources": [kind.plural],
            "verbs": ["get", "list", "watch", "patch"],
        },
        {
            "apiGroups": [GROUP],
            "resources": [f"{kind.plural}/status"],
            "verbs": ["get", "patch", "update"],
        },
    ]


def _rule(group: str, resources: list[str], verbs: list[str], **extra: Any) -> dict[str, Any]:
    return {"apiGroups": [group], "resources": resources, "verbs": verbs, **extra}


_OWN = ["get", "list", "watch", "create", "patch", "delete"]

# What each operator provisions beyond its own kind.
PROVISIONING_RULES: dict[str, list[dict[str, Any]]] = {
    "tenant": [
        _rule("", ["namespaces", "resourcequotas", "limitranges", "secrets"], _OWN),
        _rule("networking.k8s.io", ["networkpolicies"], _OWN),
        _rule("rbac.authorization.k8s.io", ["roles", "rolebindings"], _OWN),
        # Binding the shared tenant-admin ClusterRole needs `bind` on exactly that role; a
        # per-tenant Role with the same rules would need `escalate`, cluster-wide.
        _rule(
            "rbac.authorization.k8s.io",
            ["clusterroles"],
            ["bind"],
            resourceNames=[TENANT_ADMIN_CLUSTER_ROLE],
        ),
    ],
}

TENANT_ADMIN_RULES: list[dict[str, Any]] = [
    _rule("", ["pods", "pods/log", "services", "configmaps", "persistentvolumeclaims"], ["*"]),
    _rule("apps", ["deployments", "statefulsets", "replicasets"], ["*"]),
    _rule("batch", ["jobs", "cronjobs"], ["*"]),
    _rule("autoscaling", ["horizontalpodautoscalers"], ["*"]),
    _rule("policy", ["poddisruptionbudgets"], ["*"]),
    _rule("", ["resourcequotas", "limitranges", "events"], ["get", "list", "watch"]),
    _rule("networking.k8s.io", ["networkpolicies"], ["get", "list", "watch"]),
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


def cluster_role(operator: str) -> dict[str, Any]:
    kind = KIND_OF_OPERATOR[operator]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": f"meridian-{operator}-operator",
            "labels": {
                "app.kubernetes.io/name": f"meridian-{operator}-operator",
                "app.kubernetes.io/component": "operator",
                "app.kubernetes.io/part-of": "meridian",
            },
            "annotations": {"meridian.io/manages": f"{kind.plural}.{API_VERSION}"},
        },
        "rules": FRAMEWORK_RULES + kind_rules(kind) + PROVISIONING_RULES.get(operator, []),
    }


def manifests(
    operators: list[str], *, namespace: str, service_account: str
) -> list[dict[str, Any]]:
    """ServiceAccount, one ClusterRole per operator, and the bindings that grant exactly those."""
    documents: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": service_account, "namespace": namespace},
        }
    ]
    if "tenant" in operators:
        documents.append(tenant_admin_cluster_role())
    for operator in operators:
        role = cluster_role(operator)
        documents.append(role)
        documents.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": f"{role['metadata']['name']}-{service_account}"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": role["metadata"]["name"],
                },
                "subjects": [
                    {"kind": "ServiceAccount", "name": service_account, "namespace": namespace}
                ],
            }
        )
    return documents
