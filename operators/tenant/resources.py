"""The Kubernetes objects a Tenant owns, rendered from its spec (pure: no I/O).

Namespace `tenant-<name>`, ResourceQuota and LimitRange from the tier, NetworkPolicies after the
seed's firewall table (default-deny ingress; the gateway may reach 8080/9090; Prometheus may scrape
8080; their namespaces are settings, passed in as `Peers`), and RBAC for the tenant's admin group. Every object carries our labels and an
ownerReference to the Tenant, so it is traceable and garbage-collected with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from meridian.core.api.v1alpha1 import GROUP, VERSION, tenant
from meridian.operators.tenant import rbac

MANAGED_BY = "meridian-tenant-operator"
TENANT_LABEL = "meridian.io/tenant"
TIER_LABEL = "meridian.io/tier"
CREDENTIALS_SECRET = "tenant-credentials"
TENANT_ADMIN_CLUSTER_ROLE = rbac.TENANT_ADMIN_CLUSTER_ROLE
HTTP_PORT = 8080
GRPC_PORT = 9090

Manifest = dict[str, Any]


class Peers(NamedTuple):
    """Where the pods live that may reach a tenant's pods (the NetworkPolicies' `from`)."""

    gateway_namespace: str
    monitoring_namespace: str


def namespace_of(name: str) -> str:
    return f"tenant-{name}"


def labels(name: str) -> dict[str, str]:
    return {
        TENANT_LABEL: name,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        "app.kubernetes.io/part-of": "meridian",
    }


def metadata(
    name: str, object_name: str, owner: Mapping[str, Any], namespaced: bool = True
) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "name": object_name,
        "labels": labels(name),
        "ownerReferences": [
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": tenant.KIND.kind,
                "name": name,
                "uid": owner["uid"],
                "blockOwnerDeletion": True,
            }
        ],
    }
    if namespaced:
        meta["namespace"] = namespace_of(name)
    return meta


def _network_policies(name: str, owner: Mapping[str, Any], peers: Peers) -> list[Manifest]:
    def policy(object_name: str, spec: dict[str, Any]) -> Manifest:
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": metadata(name, object_name, owner),
            "spec": spec,
        }

    def peer(namespace: str, app: str) -> dict[str, Any]:
        return {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": namespace}},
            "podSelector": {"matchLabels": {"app.kubernetes.io/name": app}},
        }

    return [
        policy("default-deny-ingress", {"podSelector": {}, "policyTypes": ["Ingress"]}),
        policy(
            "allow-from-gateway",
            {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [peer(peers.gateway_namespace, "gateway")],
                        "ports": [
                            {"protocol": "TCP", "port": HTTP_PORT},
                            {"protocol": "TCP", "port": GRPC_PORT},
                        ],
                    }
                ],
            },
        ),
        policy(
            "allow-prometheus-scrape",
            {
                "podSelector": {},
                "policyTypes": ["Ingress"],
                "ingress": [
                    {
                        "from": [peer(peers.monitoring_namespace, "prometheus")],
                        "ports": [{"protocol": "TCP", "port": HTTP_PORT}],
                    }
                ],
            },
        ),
    ]


def _rbac(name: str, spec: tenant.TenantSpec, owner: Mapping[str, Any]) -> list[Manifest]:
    group = spec.admin_group or f"{namespace_of(name)}-admins"
    subjects = [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": group}]
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": metadata(name, "tenant-admins", owner),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": TENANT_ADMIN_CLUSTER_ROLE,
            },
            "subjects": subjects,
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": metadata(name, "tenant-credentials-reader", owner),
            "rules": [
                {
                    "apiGroups": [""],
                    "resources": ["secrets"],
                    "resourceNames": [CREDENTIALS_SECRET],
                    "verbs": ["get"],
                }
            ],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": metadata(name, "tenant-credentials-readers", owner),
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": "tenant-credentials-reader",
            },
            "subjects": subjects,
        },
    ]


def render(
    name: str, spec: tenant.TenantSpec, owner: Mapping[str, Any], peers: Peers
) -> list[Manifest]:
    """Every object, namespace first (the others live in it)."""
    policy = spec.policy()
    namespace_meta = metadata(name, namespace_of(name), owner, namespaced=False)
    namespace_meta["labels"][TIER_LABEL] = spec.tier
    return [
        {"apiVersion": "v1", "kind": "Namespace", "metadata": namespace_meta},
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": metadata(name, "tenant-quota", owner),
            "spec": {
                "hard": {
                    "requests.cpu": policy.cpu,
                    "requests.memory": policy.memory,
                    "pods": str(policy.pods),
                }
            },
        },
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": metadata(name, "tenant-limits", owner),
            "spec": {
                "limits": [
                    {
                        "type": "Container",
                        "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                        "default": {"cpu": "500m", "memory": "512Mi"},
                    }
                ]
            },
        },
        *_network_policies(name, owner, peers),
        *_rbac(name, spec, owner),
    ]


def contains(live: Any, desired: Any) -> bool:
    """Whether `live` holds everything `desired` says (the server may add defaults and fields)."""
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
