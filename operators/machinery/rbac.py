"""Least-privilege RBAC for the operators: the framework's rules plus what each operator declares.

Every operator may watch and annotate its own kind and write its status, and needs what kopf
itself uses (peering, discovery, namespaces, Events); anything more it declares next to its code,
as `Operator.rbac_rules`. `cluster_role(name)` is what one operator may do; the chart binds it to
that operator's ServiceAccount and the e2e tests run the operator under exactly these rules
against the real apiserver (RBAC on), so a missing verb fails a test rather than a rollout.
"""

from __future__ import annotations

from typing import Any

from meridian.core.api.v1alpha1.meta import API_VERSION, GROUP, Kind
from meridian.operators.machinery import operator

Rule = dict[str, Any]
Manifest = dict[str, Any]

OWN = ("get", "list", "watch", "create", "patch", "delete")
"""The verbs of an operator over the objects it provisions."""

# What kopf itself needs: peering, resource discovery, namespace scanning, Events.
FRAMEWORK_RULES: list[Rule] = [
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


def rule(
    group: str, resources: list[str], verbs: list[str] | tuple[str, ...], **extra: Any
) -> Rule:
    """One PolicyRule: `rule("", ["secrets"], rbac.OWN)`; extra keys such as resourceNames."""
    return {"apiGroups": [group], "resources": resources, "verbs": list(verbs), **extra}


def kind_rules(kind: Kind) -> list[Rule]:
    """Watch and annotate the kind (kopf's progress and finalizer live in metadata); write status."""
    return [
        rule(GROUP, [kind.plural], ["get", "list", "watch", "patch"]),
        rule(GROUP, [f"{kind.plural}/status"], ["get", "patch", "update"]),
    ]


def cluster_role(name: str) -> Manifest:
    """The ClusterRole `meridian-<name>-operator`: everything operator `name` may do."""
    (found,) = operator.named([name])
    role = f"meridian-{name}-operator"
    kind = found.kind
    manages = {"meridian.io/manages": f"{kind.plural}.{API_VERSION}"} if kind else {}
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {
            "name": role,
            "labels": {
                "app.kubernetes.io/name": role,
                "app.kubernetes.io/component": "operator",
                "app.kubernetes.io/part-of": "meridian",
            },
            "annotations": manages,
        },
        "rules": FRAMEWORK_RULES + (kind_rules(kind) if kind else []) + list(found.rbac_rules),
    }


def shared_cluster_roles(names: list[str] | None = None) -> list[Manifest]:
    """The ClusterRoles operators bind for others (e.g. the tenant admins'), installed up front."""
    return [role for found in operator.named(names) for role in found.cluster_roles]


def manifests(names: list[str], *, namespace: str, service_account: str) -> list[Manifest]:
    """ServiceAccount, one ClusterRole per operator, and the bindings that grant exactly those."""
    documents: list[Manifest] = [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": service_account, "namespace": namespace},
        },
        *shared_cluster_roles(names),
    ]
    for name in names:
        role = cluster_role(name)
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
