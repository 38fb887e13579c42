"""Step 1, NamespaceReady: the tenant's Kubernetes objects exist as rendered, and stay so.

`ensure` writes only objects that are missing or differ from the rendering (compared with the
operator's index, not fetched), so a converged tenant costs no API calls. `register` adds the
drift watch: an owned object deleted or edited by hand is re-applied from the Tenant's spec at
once, with an Event on the Tenant saying what was repaired.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf
import pydantic
from lightkube import AsyncClient, codecs
from lightkube.core.exceptions import ApiError
from lightkube.resources.core_v1 import Namespace

from meridian.core import events
from meridian.core.api.v1alpha1 import tenant
from meridian.operators.machinery import reconciler, wiring
from meridian.operators.tenant import owned, reasons, resources


async def ensure(
    api: AsyncClient,
    name: str,
    spec: tenant.TenantSpec,
    owner: Mapping[str, Any],
    indexes: owned.Indexes,
    peers: resources.Peers,
) -> tuple[reconciler.ConditionUpdate, list[str]]:
    """Apply what is missing or changed; returns the condition and what was written."""
    namespace = resources.namespace_of(name)
    live_namespace = owned.lookup(indexes, "Namespace", None, namespace)
    if live_namespace and live_namespace["metadata"].get("deletionTimestamp"):
        message = f"namespace {namespace} is terminating; it is re-created once it is gone"
        condition = reconciler.ConditionUpdate(
            reasons.NAMESPACE_READY, "False", reasons.NAMESPACE_TERMINATING, message
        )
        return condition, []
    written: list[str] = []
    for manifest in resources.render(name, spec, owner, peers):
        meta = manifest["metadata"]
        live = owned.lookup(indexes, manifest["kind"], meta.get("namespace"), meta["name"])
        if live is not None and resources.contains(live, manifest):
            continue
        what = f"{manifest['kind']}/{meta['name']}"
        try:
            await api.apply(codecs.from_dict(manifest), force=True)
        except ApiError as error:
            message = f"applying {what} failed: {error.status.message}"
            condition = reconciler.ConditionUpdate(
                reasons.NAMESPACE_READY, "False", reasons.APPLY_FAILED, message
            )
            return condition, written
        written.append(what)
    message = f"namespace {namespace} with quota, limits, network policies and admin RBAC"
    condition = reconciler.ConditionUpdate(
        reasons.NAMESPACE_READY, "True", reasons.PROVISIONED, message
    )
    return condition, written


async def delete_namespace(api: AsyncClient, name: str, indexes: owned.Indexes) -> bool:
    """Delete the namespace (and with it everything in it); True once it is gone."""
    namespace = resources.namespace_of(name)
    if owned.lookup(indexes, "Namespace", None, namespace) is None:
        return True
    try:
        await api.delete(Namespace, namespace)
    except ApiError as error:
        if error.status.code != 404:
            raise
    return False


def _provisioned(owner: Mapping[str, Any]) -> bool:
    """The first reconcile finished the namespace step: from then on, changes are drift."""
    found = (owner.get("status") or {}).get("conditions") or []
    return any(c["type"] == reasons.NAMESPACE_READY and c["status"] == "True" for c in found)


def register(
    registry: kopf.OperatorRegistry,
    connections: wiring.Connections[Any],
    peers: resources.Peers,
) -> None:
    """The drift watch over every owned kind but the credentials Secret."""

    async def repair_drift(
        event: kopf.RawEvent, body: kopf.Body, logger: kopf.Logger, **kwargs: Any
    ) -> None:
        meta = body.get("metadata", {})
        name = meta.get("labels", {}).get(resources.TENANT_LABEL)
        indexes = {k: v for k, v in kwargs.items() if isinstance(v, kopf.Index)}
        owner = owned.tenant_body(indexes, name) if name else None
        if owner is None or owner["metadata"].get("deletionTimestamp") or not _provisioned(owner):
            return  # not drift: the tenant is gone, being offboarded, or still provisioning
        try:
            spec = tenant.TenantSpec.model_validate(owner.get("spec") or {})
        except pydantic.ValidationError:
            return  # the reconcile reports the invalid spec
        desired = next(
            (
                manifest
                for manifest in resources.render(name, spec, owner["metadata"], peers)
                if manifest["kind"] == body.get("kind")
                and manifest["metadata"]["name"] == meta.get("name")
            ),
            None,
        )
        if desired is None or (
            event.get("type") != "DELETED" and resources.contains(body, desired)
        ):
            return
        api = connections.api
        _, written = await ensure(api, name, spec, owner["metadata"], indexes, peers)
        if written:
            logger.info("Drift repaired", extra={"tenant": name, "objects": written})
            await events.post(
                api,
                owner,
                type="Normal",
                reason=reasons.DRIFT_REPAIRED,
                message=f"Re-applied {', '.join(written)} after it was changed outside the operator",
            )

    for kind in owned.OWNED:
        if kind.kind == "Secret":
            continue  # the credentials Secret is the database step's (a new key, not a re-apply)
        kopf.on.event(
            kind.group,
            kind.version,
            kind.plural,
            labels=owned.SELECTOR,
            id=f"drift-{kind.plural}",
            registry=registry,
        )(repair_drift)
