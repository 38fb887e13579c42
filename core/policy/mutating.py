"""Defaults that never override the user, as one MutatingAdmissionPolicy (GA in Kubernetes 1.36).

Each default fills a field only where the Pod leaves it unset, and only on CREATE, so what the
user wrote always wins and a re-applied object is not changed again. They mutate Pods, not the
templates of Deployments and the other controllers: a controller's object stays exactly as
applied (no drift for `kubectl diff` or GitOps), and every pod it creates gets the defaults.

- non-root: `spec.securityContext.runAsNonRoot: true` when the pod sets neither it nor a root user
  anywhere (the kubelet then refuses an image that would run as root).
- read-only root: `securityContext.readOnlyRootFilesystem: true` on every container and init
  container that does not say.
- requests: `resources.requests` of cpu 100m / memory 128Mi for a container that declares neither
  a request nor a limit of that resource (Kubernetes already copies a limit into a missing
  request). Limits are not defaulted: a default limit would make every pod pass
  `meridian-resource-limits`, whose point is that each workload's owner sizes it; tenant
  namespaces get the tier's limits from their LimitRange.
- labels: `app.kubernetes.io/name` from the `app` label, and `meridian.io/tenant` from the
  namespace's, when the pod lacks them.

All four are one policy (`meridian-defaults`) with one ApplyConfiguration, each part present only
where needed (CEL optional fields and entries). What a default costs the apiserver is not its CEL
but what surrounds it: every matchCondition and every mutation gets a fresh activation (the Pod,
the namespace and the request converted to unstructured by reflection), every mutation converts
the Pod to a typed value, merges and converts it back, and a pod that any default changed sends
the mutating chain round again, re-testing every policy's matchConditions. Four policies of one
to two mutations each cost a create about four times what one policy with one mutation does.

A default that fails to evaluate is skipped (`failurePolicy: Ignore`): a default must never block
a create; the validating policies still judge the pod.
"""

from __future__ import annotations

from typing import Any

from meridian.core.policy import validating

TENANT_LABEL = "meridian.io/tenant"
NAME_LABEL = "app.kubernetes.io/name"
DEFAULT_REQUESTS = {"cpu": "100m", "memory": "128Mi"}

_LISTS = ("containers", "initContainers")
_EVERY_CONTAINER = (
    "object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : [])"
)


NAME = "meridian-defaults"
DESCRIPTION = (
    "Pod defaults that never override the user: runAsNonRoot, readOnlyRootFilesystem, "
    "cpu/memory requests, app.kubernetes.io/name and meridian.io/tenant labels"
)


def _optional(condition: str, value: str) -> str:
    """A CEL optional: `value` where `condition` holds, else none (the field or entry is left out)."""
    return f"{condition} ? optional.of({value}) : optional.none()"


_READ_ONLY_UNSET = "!(has(c.securityContext) && has(c.securityContext.readOnlyRootFilesystem))"
_ROOT_USER = (
    "has(c.securityContext) && has(c.securityContext.runAsUser) && c.securityContext.runAsUser == 0"
)


def _request_unset(resource: str) -> str:
    return (
        f"!(has(c.resources) && ((has(c.resources.requests) && '{resource}' in c.resources.requests)"
        f" || (has(c.resources.limits) && '{resource}' in c.resources.limits)))"
    )


_ANY_REQUEST_UNSET = " || ".join(f"({_request_unset(resource)})" for resource in DEFAULT_REQUESTS)
_CONTAINER_NEEDS = f"({_READ_ONLY_UNSET}) || {_ANY_REQUEST_UNSET}"

_NON_ROOT_UNSET = (
    "!(has(object.spec.securityContext) && "
    "(has(object.spec.securityContext.runAsNonRoot) || "
    "(has(object.spec.securityContext.runAsUser) && "
    "object.spec.securityContext.runAsUser == 0))) && "
    f"!({_EVERY_CONTAINER}).exists(c, {_ROOT_USER})"
)


def _label_missing(key: str) -> str:
    return f"!(has(object.metadata.labels) && '{key}' in object.metadata.labels)"


# Label -> (CEL of its value, CEL true when that value exists).
_LABELS = {
    NAME_LABEL: (
        "string(object.metadata.labels['app'])",  # a string, as the namespace's label
        "has(object.metadata.labels) && 'app' in object.metadata.labels",
    ),
    TENANT_LABEL: (
        f"namespaceObject.metadata.labels['{TENANT_LABEL}']",
        f"has(namespaceObject.metadata.labels) && '{TENANT_LABEL}' in namespaceObject.metadata.labels",
    ),
}


def _container(name: str) -> str:
    """The defaults of container `c` of list `name`: only the parts it lacks."""
    kind = f"Object.spec.{name}"
    requests = ", ".join(
        f"?'{resource}': {_optional(_request_unset(resource), repr(value))}"
        for resource, value in DEFAULT_REQUESTS.items()
    )
    read_only = f"{kind}.securityContext{{readOnlyRootFilesystem: true}}"
    resources = f"{kind}.resources{{requests: {{{requests}}}}}"
    return (
        f"{kind}{{name: c.name, "
        f"?securityContext: {_optional(_READ_ONLY_UNSET, read_only)}, "
        f"?resources: {_optional(_ANY_REQUEST_UNSET, resources)}}}"
    )


def _containers(name: str) -> str:
    """Every container of list `name` that lacks a default, with what it lacks; lists merge by
    container name, so the others are left as they are."""
    source = (
        f"object.spec.{name}"
        if name == "containers"
        else f"(has(object.spec.{name}) ? object.spec.{name} : [])"
    )
    return f"{name}: {source}.filter(c, {_CONTAINER_NEEDS}).map(c, {_container(name)})"


def mutation() -> str:
    """The one ApplyConfiguration: every default the pod needs, nothing else."""
    labels = ", ".join(
        f"?'{key}': {_optional(f'{_label_missing(key)} && {present}', source)}"
        for key, (source, present) in _LABELS.items()
    )
    non_root = _optional(_NON_ROOT_UNSET, "Object.spec.securityContext{runAsNonRoot: true}")
    spec = ", ".join([f"?securityContext: {non_root}", *(_containers(name) for name in _LISTS)])
    return (
        f"Object{{metadata: Object.metadata{{labels: {{{labels}}}}}, spec: Object.spec{{{spec}}}}}"
    )


# matchConditions see no namespaceObject (the apiserver passes none to them), so the tenant
# label's source is looked at by the mutation alone.
CONDITION = " || ".join(
    [
        f"({_NON_ROOT_UNSET})",
        f"({_EVERY_CONTAINER}).exists(c, {_CONTAINER_NEEDS})",
        f"({_label_missing(NAME_LABEL)} && {_LABELS[NAME_LABEL][1]})",
        _label_missing(TENANT_LABEL),
    ]
)


def policy() -> dict[str, Any]:
    return {
        "apiVersion": validating.API_VERSION,
        "kind": "MutatingAdmissionPolicy",
        "metadata": {
            "name": NAME,
            "labels": validating.LABELS,
            "annotations": {"meridian.io/description": DESCRIPTION},
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
            "matchConditions": [{"name": "needs-default", "expression": CONDITION}],
            "mutations": [
                {
                    "patchType": "ApplyConfiguration",
                    "applyConfiguration": {"expression": mutation()},
                }
            ],
        },
    }


def binding() -> dict[str, Any]:
    """Every namespace but kube-system, as the validating policies."""
    return {
        "apiVersion": validating.API_VERSION,
        "kind": "MutatingAdmissionPolicyBinding",
        "metadata": {"name": NAME, "labels": validating.LABELS},
        "spec": {
            "policyName": NAME,
            "matchResources": {"namespaceSelector": validating.NAMESPACE_SELECTOR},
        },
    }


def policies() -> list[dict[str, Any]]:
    return [policy()]


def bindings() -> list[dict[str, Any]]:
    return [binding()]
