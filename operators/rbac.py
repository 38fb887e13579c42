"""Least-privilege RBAC for the operators, declared next to the code that needs it.

`cluster_role(name)` is what one operator may do; the chart binds it to that operator's
ServiceAccount and the e2e tests run the operator under exactly these rules against the real
apiserver (RBAC on), so a missing verb fails a test rather than a production rollout.
"""

from __future__ import annotations

from typing import Any

from meridian.core.api.v1alpha1 import GROUP, Kind, edgenode, failoverplan, servicerelease, tenant
from meridian.core.api.v1alpha1.meta import API_VERSION

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
        "rules": FRAMEWORK_RULES + kind_rules(kind),
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
