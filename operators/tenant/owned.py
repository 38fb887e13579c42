"""The Tenant operator's view of what it owns: kopf indexes over every object it labels.

Reconciles compare desired objects with this in-memory view and write only what is missing or
changed, so an idle operator makes no API calls at all. The same watches repair drift at once:
an owned object deleted or edited by hand is re-applied from the Tenant's spec within a second.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from typing import Any

import kopf

from meridian.core.api.v1alpha1 import GROUP, VERSION
from meridian.operators.machinery import wiring
from meridian.operators.tenant import resources

OWNED: tuple[wiring.OwnedKind, ...] = (
    wiring.OwnedKind("", "v1", "namespaces", "Namespace"),
    wiring.OwnedKind("", "v1", "resourcequotas", "ResourceQuota"),
    wiring.OwnedKind("", "v1", "limitranges", "LimitRange"),
    wiring.OwnedKind("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy"),
    wiring.OwnedKind("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    wiring.OwnedKind("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    wiring.OwnedKind("", "v1", "secrets", "Secret"),
)
SELECTOR = {"app.kubernetes.io/managed-by": resources.MANAGED_BY}
TENANTS_INDEX = "tenants"
KEY_DIGEST = "meridian.io/api-key-sha256"
"""Set on a Secret's snapshot (never on the object): the hash of the key it delivers."""

Indexes = Mapping[str, kopf.Index[Any, Any]]


def index_id(kind: str) -> str:
    return f"owned_{kind.lower()}"


def snapshot(body: kopf.Body) -> dict[str, Any]:
    """What we keep of an owned object: everything but status and managedFields (and secrets)."""
    kept = {key: value for key, value in body.items() if key not in ("status", "data")}
    kept["metadata"] = {
        key: value for key, value in body.get("metadata", {}).items() if key != "managedFields"
    }
    token = (body.get("data") or {}).get("api-key")
    if token:
        kept[KEY_DIGEST] = hashlib.sha256(base64.b64decode(token)).hexdigest()
    return kept


def lookup(indexes: Indexes, kind: str, namespace: str | None, name: str) -> dict[str, Any] | None:
    store = indexes[index_id(kind)].get((namespace or "", name))
    return next(iter(store), None) if store else None


def tenant_body(indexes: Indexes, name: str) -> Mapping[str, Any] | None:
    store = indexes[TENANTS_INDEX].get(name)
    return next(iter(store), None) if store else None


def register(registry: kopf.OperatorRegistry) -> None:
    """Indexes over the owned kinds and the Tenants (kopf fills them before any handler runs)."""

    def index_owned(body: kopf.Body, **_: Any) -> dict[tuple[str, str], dict[str, Any]]:
        meta = body.get("metadata", {})
        return {(meta.get("namespace") or "", meta["name"]): snapshot(body)}

    def index_tenant(body: kopf.Body, **_: Any) -> dict[str, dict[str, Any]]:
        kept = ("apiVersion", "kind", "metadata", "spec", "status")
        return {body["metadata"]["name"]: {key: body.get(key) for key in kept}}

    for owned in OWNED:
        kopf.index(
            owned.group,
            owned.version,
            owned.plural,
            labels=SELECTOR,
            id=index_id(owned.kind),
            registry=registry,
        )(index_owned)
    kopf.index(GROUP, VERSION, "tenants", id=TENANTS_INDEX, registry=registry)(index_tenant)
