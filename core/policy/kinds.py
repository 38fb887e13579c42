"""Our kinds' cross-resource checks, as pure rules over the object and what the world holds.

Each returns the violations of one object; the lookups (does this Secret exist, is this tenant
name registered) are done by `world` and passed in, so every rule is testable without a cluster.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from meridian.core.policy import integrity
from meridian.core.policy.violations import Violation


def _spec(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    spec = obj.get("spec")
    return spec if isinstance(spec, Mapping) else {}


def _at(obj: Mapping[str, Any], *path: str) -> Any:
    value: Any = obj
    for key in path:
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def service_release(obj: Mapping[str, Any], services: Collection[str]) -> list[Violation]:
    service = _spec(obj).get("service")
    if service in services:
        return []
    return [
        Violation(
            integrity.SERVICE_IN_CATALOGUE,
            "spec.service",
            f"{service!r} is not in the platform's catalogue ({', '.join(sorted(services))})",
        )
    ]


# The Secret references of a FailoverPlan: field path -> where it sits in spec.
FAILOVER_SECRET_FIELDS = {
    "spec.sourceCluster.kubeconfigSecret": ("sourceCluster", "kubeconfigSecret"),
    "spec.targetCluster.kubeconfigSecret": ("targetCluster", "kubeconfigSecret"),
    "spec.database.primary.credentialsSecret": ("database", "primary", "credentialsSecret"),
    "spec.database.replica.credentialsSecret": ("database", "replica", "credentialsSecret"),
    "spec.database.primary.agent.tokenSecret.name": (
        "database",
        "primary",
        "agent",
        "tokenSecret",
        "name",
    ),
    "spec.database.replica.agent.tokenSecret.name": (
        "database",
        "replica",
        "agent",
        "tokenSecret",
        "name",
    ),
}


def failover_secrets(obj: Mapping[str, Any]) -> dict[str, str]:
    """field path -> Secret name, for each reference set (an empty one means "none needed")."""
    spec = _spec(obj)
    named = {}
    for field, path in FAILOVER_SECRET_FIELDS.items():
        value = _at(spec, *path)
        if isinstance(value, str) and value:
            named[field] = value
    return named


def missing_secrets(namespace: str, missing: Mapping[str, str]) -> list[Violation]:
    return [
        Violation(
            integrity.FAILOVER_SECRETS_EXIST,
            field,
            f"Secret {name!r} does not exist in namespace {namespace}",
        )
        for field, name in sorted(missing.items())
    ]


def tenant_name(name: str, registered: bool) -> list[Violation]:
    if not registered:
        return []
    return [
        Violation(
            integrity.TENANT_NAME_FREE,
            "metadata.name",
            f"tenant name {name!r} is already in the platform registry",
        )
    ]


def edge_site(obj: Mapping[str, Any], sites: Collection[str]) -> list[Violation]:
    site = _spec(obj).get("site")
    if site in sites:
        return []
    return [
        Violation(
            integrity.EDGE_SITE_KNOWN,
            "spec.site",
            f"{site!r} is not a configured site ({', '.join(sorted(sites))})",
        )
    ]
