"""Defaults that never override the user, as MutatingAdmissionPolicies (GA in Kubernetes 1.36).

Each default fills a field only where the Pod leaves it unset, and only on CREATE, so what the
user wrote always wins and a re-applied object is not changed again. They mutate Pods, not the
templates of Deployments and the other controllers: a controller's object stays exactly as
applied (no drift for `kubectl diff` or GitOps), and every pod it creates gets the defaults.

- `meridian-default-non-root`: `spec.securityContext.runAsNonRoot: true` when the pod sets neither
  it nor a root user anywhere (the kubelet then refuses an image that would run as root).
- `meridian-default-read-only-root`: `securityContext.readOnlyRootFilesystem: true` on every
  container and init container that does not say.
- `meridian-default-requests`: `resources.requests` of cpu 100m / memory 128Mi for a container
  that declares neither a request nor a limit of that resource (Kubernetes already copies a limit
  into a missing request). Limits are not defaulted: a default limit would make every pod pass
  `meridian-resource-limits`, whose point is that each workload's owner sizes it; tenant
  namespaces get the tier's limits from their LimitRange.
- `meridian-default-labels`: `app.kubernetes.io/name` from the `app` label, and
  `meridian.io/tenant` from the namespace's, when the pod lacks them.

A default that fails to evaluate is skipped (`failurePolicy: Ignore`): a default must never block
a create; the validating policies still judge the pod.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from meridian.core.policy import validating

TENANT_LABEL = "meridian.io/tenant"
NAME_LABEL = "app.kubernetes.io/name"
DEFAULT_REQUESTS = {"cpu": "100m", "memory": "128Mi"}

_LISTS = ("containers", "initContainers")
_EVERY_CONTAINER = (
    "object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : [])"
)


@dataclass(frozen=True)
class Default:
    name: str
    description: str
    condition: str  # CEL: the pod needs this default (a matchCondition, so a no-op costs nothing)
    mutations: list[str]  # CEL ApplyConfiguration expressions


def _per_container(needs: str, patch: str) -> str:
    """An ApplyConfiguration setting `patch` (an `Object.spec.containers` body) on every container
    and init container where `needs` (CEL on `c`) holds; lists merge by container name."""
    fields = []
    for name in _LISTS:
        source = (
            f"object.spec.{name}"
            if name == "containers"
            else (f"(has(object.spec.{name}) ? object.spec.{name} : [])")
        )
        fields.append(
            f"{name}: {source}.filter(c, {needs})"
            f".map(c, Object.spec.{name}{{name: c.name, {patch.replace('LIST', name)}}})"
        )
    return f"Object{{spec: Object.spec{{{', '.join(fields)}}}}}"


_READ_ONLY_UNSET = "!(has(c.securityContext) && has(c.securityContext.readOnlyRootFilesystem))"
_ROOT_USER = (
    "has(c.securityContext) && has(c.securityContext.runAsUser) && c.securityContext.runAsUser == 0"
)


def _request_unset(resource: str) -> str:
    return (
        f"!(has(c.resources) && ((has(c.resources.requests) && '{resource}' in c.resources.requests)"
        f" || (has(c.resources.limits) && '{resource}' in c.resources.limits)))"
    )


def _label(key: str, source: str, present: str) -> str:
    """An ApplyConfiguration adding label `key` from CEL `source` when `present` holds, else nothing."""
    return (
        f"!(has(object.metadata.labels) && '{key}' in object.metadata.labels) && {present} ? "
        f"Object{{metadata: Object.metadata{{labels: {{'{key}': {source}}}}}}} : Object{{}}"
    )


DEFAULTS: tuple[Default, ...] = (
    Default(
        name="meridian-default-non-root",
        description="spec.securityContext.runAsNonRoot: true unless the pod chose a user",
        condition=(
            "!(has(object.spec.securityContext) && "
            "(has(object.spec.securityContext.runAsNonRoot) || "
            "(has(object.spec.securityContext.runAsUser) && "
            "object.spec.securityContext.runAsUser == 0))) && "
            f"!({_EVERY_CONTAINER}).exists(c, {_ROOT_USER})"
        ),
        mutations=[
            "Object{spec: Object.spec{securityContext: "
            "Object.spec.securityContext{runAsNonRoot: true}}}"
        ],
    ),
    Default(
        name="meridian-default-read-only-root",
        description="securityContext.readOnlyRootFilesystem: true on containers that do not say",
        condition=f"({_EVERY_CONTAINER}).exists(c, {_READ_ONLY_UNSET})",
        mutations=[
            _per_container(
                _READ_ONLY_UNSET,
                "securityContext: Object.spec.LIST.securityContext{readOnlyRootFilesystem: true}",
            )
        ],
    ),
    Default(
        name="meridian-default-requests",
        description="resources.requests cpu 100m / memory 128Mi where neither request nor limit is set",
        condition=" || ".join(
            f"({_EVERY_CONTAINER}).exists(c, {_request_unset(resource)})"
            for resource in DEFAULT_REQUESTS
        ),
        mutations=[
            _per_container(
                _request_unset(resource),
                f"resources: Object.spec.LIST.resources{{requests: {{'{resource}': '{value}'}}}}",
            )
            for resource, value in DEFAULT_REQUESTS.items()
        ],
    ),
    Default(
        name="meridian-default-labels",
        description=f"{NAME_LABEL} from the app label, {TENANT_LABEL} from the namespace's",
        condition="true",
        mutations=[
            _label(
                NAME_LABEL,
                "object.metadata.labels['app']",
                "has(object.metadata.labels) && 'app' in object.metadata.labels",
            ),
            _label(
                TENANT_LABEL,
                f"namespaceObject.metadata.labels['{TENANT_LABEL}']",
                "has(namespaceObject.metadata.labels) && "
                f"'{TENANT_LABEL}' in namespaceObject.metadata.labels",
            ),
        ],
    ),
)


def policy(default: Default) -> dict[str, Any]:
    return {
        "apiVersion": validating.API_VERSION,
        "kind": "MutatingAdmissionPolicy",
        "metadata": {
            "name": default.name,
            "labels": validating.LABELS,
            "annotations": {"meridian.io/description": default.description},
        },
        "spec": {
            "failurePolicy": "Ignore",
            "reinvocationPolicy": "Never",
            "matchConstraints": {
                "resourceRules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                    }
                ]
            },
            "matchConditions": [{"name": "needs-default", "expression": default.condition}],
            "mutations": [
                {"patchType": "ApplyConfiguration", "applyConfiguration": {"expression": mutation}}
                for mutation in default.mutations
            ],
        },
    }


def binding(default: Default) -> dict[str, Any]:
    """Every namespace but kube-system, as the validating policies."""
    return {
        "apiVersion": validating.API_VERSION,
        "kind": "MutatingAdmissionPolicyBinding",
        "metadata": {"name": default.name, "labels": validating.LABELS},
        "spec": {
            "policyName": default.name,
            "matchResources": {"namespaceSelector": validating.NAMESPACE_SELECTOR},
        },
    }


def policies() -> list[dict[str, Any]]:
    return [policy(default) for default in DEFAULTS]


def bindings() -> list[dict[str, Any]]:
    return [binding(default) for default in DEFAULTS]
