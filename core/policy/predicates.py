"""The five in-apiserver policies as Python predicates, for the audit of what already exists.

The apiserver enforces them at admission with CEL (ValidatingAdmissionPolicies); it never looks at
objects admitted before a policy existed or while it was in Audit. The audit controller evaluates
the same rules here over every existing pod template. They read the same fields the CEL reads:
every container, init container and ephemeral container (ephemeral ones cannot set resources, so
the limits rule skips them). `tests/policy_fixtures.py` holds pod specs that each break exactly
one policy: the predicates' unit tests use them, and they are the fixtures to send through the
ValidatingAdmissionPolicies too, so the CEL and these cannot drift apart silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from meridian.core.policy import catalogue
from meridian.core.policy.violations import Violation

APPROVED_PREFIXES: tuple[str, ...] = ("ghcr.io/meridian/",)
"""The approved registries' prefixes (the VAP reads them from its params object)."""

# (API group, kind) -> where the pod template's spec sits in the object.
POD_SPEC_PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "Pod"): ("spec",),
    ("apps", "Deployment"): ("spec", "template", "spec"),
    ("apps", "StatefulSet"): ("spec", "template", "spec"),
    ("apps", "DaemonSet"): ("spec", "template", "spec"),
    ("apps", "ReplicaSet"): ("spec", "template", "spec"),
    ("batch", "Job"): ("spec", "template", "spec"),
    ("batch", "CronJob"): ("spec", "jobTemplate", "spec", "template", "spec"),
}

_LISTS = ("containers", "initContainers", "ephemeralContainers")


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def pod_spec(group: str, kind: str, obj: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    """The pod spec of a Pod or pod controller, and its field path (`spec.template.spec`)."""
    path = POD_SPEC_PATHS[(group, kind)]
    value: Mapping[str, Any] = obj
    for key in path:
        value = _mapping(value.get(key))
    return ".".join(path), value


def _containers(spec: Mapping[str, Any]) -> Iterator[tuple[str, int, Mapping[str, Any]]]:
    for field in _LISTS:
        items = spec.get(field)
        for index, container in enumerate(items if isinstance(items, list) else []):
            yield field, index, _mapping(container)


def _tag_problem(image: str) -> str | None:
    if "@" in image:
        return None  # pinned by digest
    last = image.rsplit("/", 1)[-1]
    if ":" not in last:
        return "has no tag"
    if last.rsplit(":", 1)[1] == "latest":
        return "uses the tag latest"
    return None


Rule = Callable[[str, Mapping[str, Any], str, Mapping[str, Any]], str | None]
"""(path of the container, the container, pod spec path, the pod spec) -> the problem or None."""


def _non_root(
    _at: str, container: Mapping[str, Any], spec_at: str, spec: Mapping[str, Any]
) -> str | None:
    """The CEL's rule (`validating._non_root`): root chosen anywhere, or a Pod (spec at `spec`)
    with runAsNonRoot unset; a template may leave it unset, its Pods get the default."""
    own, pod = _mapping(container.get("securityContext")), _mapping(spec.get("securityContext"))
    non_root = own.get("runAsNonRoot", pod.get("runAsNonRoot"))
    user = own.get("runAsUser", pod.get("runAsUser"))
    if user == 0:
        return "runAsUser is 0"
    if non_root is False:
        return "runAsNonRoot is false"
    if non_root is None and spec_at == "spec":
        return "runAsNonRoot is unset (container or pod securityContext)"
    return None


def _limits(
    at: str, container: Mapping[str, Any], _spec_at: str, _spec: Mapping[str, Any]
) -> str | None:
    if ".ephemeralContainers[" in at:
        return None
    limits = _mapping(_mapping(container.get("resources")).get("limits"))
    missing = [name for name in ("cpu", "memory") if name not in limits]
    return f"resources.limits lacks {' and '.join(missing)}" if missing else None


def _no_latest(
    _at: str, container: Mapping[str, Any], _spec_at: str, _spec: Mapping[str, Any]
) -> str | None:
    image = container.get("image")
    problem = _tag_problem(image) if isinstance(image, str) else "has no image"
    return f"image {image!r} {problem}" if problem else None


def _approved(
    _at: str, container: Mapping[str, Any], _spec_at: str, _spec: Mapping[str, Any]
) -> str | None:
    image = container.get("image")
    if isinstance(image, str) and image.startswith(APPROVED_PREFIXES):
        return None
    return f"image {image!r} is not under {', '.join(APPROVED_PREFIXES)}"


def _privileged(
    _at: str, container: Mapping[str, Any], _spec_at: str, _spec: Mapping[str, Any]
) -> str | None:
    if _mapping(container.get("securityContext")).get("privileged") is True:
        return "securityContext.privileged is true"
    return None


RULES: dict[str, Rule] = {
    "meridian-non-root": _non_root,
    "meridian-resource-limits": _limits,
    "meridian-no-latest-tag": _no_latest,
    "meridian-approved-registry": _approved,
    "meridian-no-privileged": _privileged,
}
"""One predicate per APISERVER policy of the catalogue (a unit test keeps the two lists equal)."""


def violations(group: str, kind: str, obj: Mapping[str, Any]) -> list[Violation]:
    """Every APISERVER policy's violations in one Pod or pod controller, one per container."""
    spec_at, spec = pod_spec(group, kind, obj)
    found = []
    for name, rule in RULES.items():
        policy = catalogue.get(name)
        for field, index, container in _containers(spec):
            at = f"{spec_at}.{field}[{index}]"
            problem = rule(at, container, spec_at, spec)
            if problem:
                found.append(Violation(policy, at, problem))
    return found
