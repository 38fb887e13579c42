"""The webhook's ValidatingWebhookConfiguration, rendered from the catalogue's webhook policies.

It can never lock the cluster: the namespaceSelector leaves out kube-system, the webhook's own
namespace and any namespace carrying the break-glass label, so the control plane's and the
webhook's own pods are always admitted, and on-call can restore a namespace by labelling it.
Everything else fails closed (`failurePolicy: Fail`): with the webhook down, Meridian namespaces
get no unchecked workload. `timeoutSeconds` is low so a stuck webhook costs a create 3 s, not 10.

Break-glass: `kubectl label namespace NS meridian.io/admission-break-glass=true`. Labelling a
namespace needs `patch` on the cluster-scoped `namespaces` resource, which only the platform's
cluster-admins (on-call) hold; tenants' RoleBindings are namespaced and cannot grant it. Remove the
label once the webhook is back; the audit controller still reports what was admitted meanwhile.
"""

from __future__ import annotations

from typing import Any

from meridian.core.api.v1alpha1 import GROUP, KINDS, VERSION

NAME = "meridian-admission"
PATH = "/validate"
BREAK_GLASS_LABEL = "meridian.io/admission-break-glass"
TIMEOUT_S = 3
PROTECTED_NAMESPACES = ("kube-system",)


def _namespace_selector(own_namespace: str) -> dict[str, Any]:
    return {
        "matchExpressions": [
            {
                "key": "kubernetes.io/metadata.name",
                "operator": "NotIn",
                "values": [*PROTECTED_NAMESPACES, own_namespace],
            },
            {"key": BREAK_GLASS_LABEL, "operator": "NotIn", "values": ["true"]},
        ]
    }


def _rule(group: str, version: str, resources: list[str], operations: list[str]) -> dict[str, Any]:
    return {
        "apiGroups": [group],
        "apiVersions": [version],
        "resources": resources,
        "operations": operations,
        "scope": "*",
    }


def _webhook(
    name: str, client: dict[str, Any], rules: list[dict[str, Any]], own: str
) -> dict[str, Any]:
    return {
        "name": name,
        "clientConfig": client,
        "rules": rules,
        "namespaceSelector": _namespace_selector(own),
        "failurePolicy": "Fail",
        "matchPolicy": "Equivalent",
        "sideEffects": "None",
        "timeoutSeconds": TIMEOUT_S,
        "admissionReviewVersions": ["v1"],
    }


def render(
    *,
    ca_bundle: str,
    own_namespace: str,
    url: str | None = None,
    service: tuple[str, str, int] | None = None,
) -> dict[str, Any]:
    """`url` (the local platform: https://127.0.0.1:PORT) or `service` (namespace, name, port:
    the chart); `ca_bundle` is base64 PEM of every CA the serving cert may be signed by (old and
    new during a rotation)."""
    if (url is None) == (service is None):
        raise ValueError("give exactly one of url or service")
    client: dict[str, Any] = {"caBundle": ca_bundle}
    if url is not None:
        client["url"] = url.rstrip("/") + PATH
    else:
        assert service is not None
        namespace, name, port = service
        client["service"] = {"namespace": namespace, "name": name, "port": port, "path": PATH}
    write = ["CREATE", "UPDATE"]
    ours = {kind.kind: kind.plural for kind in KINDS}
    return {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingWebhookConfiguration",
        "metadata": {"name": NAME, "labels": {"app.kubernetes.io/part-of": "meridian"}},
        "webhooks": [
            _webhook(
                "workloads.admission.meridian.io",
                client,
                [
                    _rule("", "v1", ["pods"], ["CREATE"]),
                    _rule("apps", "v1", ["deployments"], write),
                    _rule("apps", "v1", ["deployments/scale"], ["UPDATE"]),
                    _rule("apps", "v1", ["statefulsets", "daemonsets", "replicasets"], ["CREATE"]),
                    _rule("batch", "v1", ["jobs", "cronjobs"], ["CREATE"]),
                ],
                own_namespace,
            ),
            _webhook(
                "kinds.admission.meridian.io",
                client,
                [
                    _rule(
                        GROUP,
                        VERSION,
                        [ours["ServiceRelease"], ours["FailoverPlan"], ours["EdgeNode"]],
                        write,
                    ),
                    _rule(GROUP, VERSION, [ours["Tenant"]], ["CREATE"]),
                ],
                own_namespace,
            ),
        ],
    }


RBAC_RULES: tuple[dict[str, Any], ...] = (
    {"apiGroups": ["policy"], "resources": ["poddisruptionbudgets"], "verbs": ["list"]},
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get"]},
    {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["list"]},
    # Existence only; `get` returns the data too, so the chart binds it to the webhook alone.
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]},
    {
        "apiGroups": [""],
        "resources": ["configmaps"],
        "verbs": ["get"],
        "resourceNames": ["meridian-policy-modes"],
    },
)
"""The webhook's ClusterRole (what its lookups read), for the chart; nothing it may write."""
