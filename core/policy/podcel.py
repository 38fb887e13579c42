"""CEL over a pod spec wherever it sits: in a Pod or in the template of any pod controller.

The ValidatingAdmissionPolicies match Pods and every pod controller, so each check is written once
against `variables.podSpec` (the spec, wherever it is) and reports fields under `variables.path`
(`spec`, `spec.template.spec` or `spec.jobTemplate.spec.template.spec`), the way the user wrote
them. A check is a `ContainerCheck`: a CEL condition on one container `c` and the CEL string that
names what is wrong, given the container's path `{p}`. `violations` turns it into one CEL list of
strings over containers, init containers and (when the check applies to them) ephemeral
containers, each with its index, e.g. `spec.template.spec.containers[0].image ("nginx:latest")`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# What the policies match: Pods (and ephemeral containers added to one) and every pod controller.
OPERATIONS = ["CREATE", "UPDATE"]
RESOURCE_RULES: list[dict[str, Any]] = [
    {
        "apiGroups": [""],
        "apiVersions": ["v1"],
        "operations": OPERATIONS,
        "resources": ["pods", "pods/ephemeralcontainers"],
    },
    {
        "apiGroups": ["apps"],
        "apiVersions": ["v1"],
        "operations": OPERATIONS,
        "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"],
    },
    {
        "apiGroups": ["batch"],
        "apiVersions": ["v1"],
        "operations": OPERATIONS,
        "resources": ["jobs", "cronjobs"],
    },
]

# An update that leaves the spec alone (labels, finalizers, owner references the garbage collector
# writes) is never refused: an object admitted while its policy was in Audit must stay deletable.
# A term of the validation itself, not a matchCondition: the apiserver builds a fresh activation
# (the object, the old object, the namespace and the request converted to unstructured) for every
# matchCondition evaluation, which a create paid once per policy for a test that is always true.
UNCHANGED_SPEC = "request.operation == 'UPDATE' && object.spec == oldObject.spec"

CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


def _where(pod: str, cronjob: str, template: str) -> str:
    return f"object.kind == 'Pod' ? {pod} : object.kind == 'CronJob' ? {cronjob} : {template}"


# The variables every check below relies on.
VARIABLES: list[dict[str, str]] = [
    {
        "name": "podSpec",
        "expression": _where(
            "object.spec", "object.spec.jobTemplate.spec.template.spec", "object.spec.template.spec"
        ),
    },
    {
        "name": "path",
        "expression": _where(
            "'spec'", "'spec.jobTemplate.spec.template.spec'", "'spec.template.spec'"
        ),
    },
    *(
        {
            "name": name,
            "expression": f"has(variables.podSpec.{name}) ? variables.podSpec.{name} : []",
        }
        for name in CONTAINER_LISTS
    ),
]


@dataclass(frozen=True)
class ContainerCheck:
    """`bad`: CEL true when container `c` violates; `field`: the CEL string naming what is
    wrong, where `{p}` stands for the container's path (a CEL string expression)."""

    bad: str
    field: str
    ephemeral: bool = True  # ephemeral containers can carry the violation too


def violations(check: ContainerCheck) -> str:
    """A CEL list of strings: one per violating container of every list, naming its field."""
    parts = []
    for name in CONTAINER_LISTS:
        if name == "ephemeralContainers" and not check.ephemeral:
            continue
        path = f"variables.path + '.{name}[' + string(i) + ']'"
        field = check.field.replace("{p}", f"({path})")
        parts.append(f"variables.{name}.transformList(i, c, {check.bad}, {field})")
    return " + ".join(parts)


def violated(check: ContainerCheck) -> str:
    """A CEL bool: some container violates. The validation tests this, a cheap `exists()`, never
    `violations`, which builds a string per container."""
    lists = [name for name in CONTAINER_LISTS if name != "ephemeralContainers" or check.ephemeral]
    return " || ".join(f"variables.{name}.exists(c, {check.bad})" for name in lists)


def literal(text: str) -> str:
    """`text` as a CEL string literal."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"
