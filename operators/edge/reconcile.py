"""Reconcile of an EdgeNode: enrol it (identity, RBAC, credential), then say how it is doing.

Enrolment comes first (`Enrolled`); the live conditions (Ready from the Lease, ConfigApplied,
Upgraded) come from `observe`, the same function the heartbeat sweep uses between resyncs.
Deletion revokes everything the enrolment created (`finalize`, behind the finalizer).
"""

from __future__ import annotations

import datetime

from lightkube.core.exceptions import ApiError

from meridian.core import events
from meridian.core.api.v1alpha1 import edgenode
from meridian.operators.edge import clients, enrolment, metrics, observe, reasons
from meridian.operators.machinery import reconciler


def _stamp(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


async def reconcile(request: clients.Request) -> reconciler.Observation:
    opened, api, name, spec = request.clients, request.api, request.name, request.spec
    if not opened.namespace_ready:
        try:
            await enrolment.ensure_namespace(api)
        except ApiError as error:
            message = f"applying namespace {edgenode.EDGE_NAMESPACE}: {error.status.message}"
            condition = reconciler.ConditionUpdate(
                reasons.ENROLLED, "False", reasons.APPLY_FAILED, message
            )
            return reconciler.Observation(conditions=(condition,), phase="Pending", requeue=True)
        opened.namespace_ready = True
    owner_uid = str(request.body["metadata"]["uid"])
    async with opened.enrolments:
        enrolled = await enrolment.ensure(
            api,
            name,
            owner_uid,
            request.indexes,
            opened.settings,
            opened.endpoint,
            spec.site,
            opened.book,
            opened.checked,
        )
    if enrolled.written and request.status.get("conditions"):
        await events.post(
            api,
            request.body,
            type="Normal",
            reason=reasons.DRIFT_REPAIRED,
            message=f"Re-applied {', '.join(enrolled.written)}",
        )
    if enrolled.issued and request.status.get("credentialExpiresAt"):
        await events.post(
            api,
            request.body,
            type="Normal",
            reason=reasons.CREDENTIAL_RENEWED,
            message=f"New token in the bootstrap Secret, valid until {enrolled.expires_at}",
        )
    annotations = request.body["metadata"].get("annotations") or {}
    live = observe.live(
        spec,
        request.status,
        annotations,
        seen=opened.book.get(edgenode.lease_name(name)),
        now=datetime.datetime.now(datetime.UTC),
        settings=opened.settings,
        halted=opened.waves.halted(spec.site),
    )
    fields = dict(live.fields)
    if enrolled.expires_at is not None:
        fields["credentialExpiresAt"] = _stamp(enrolled.expires_at)
    return reconciler.Observation(
        conditions=(enrolled.condition, *live.conditions),
        phase=live.phase if enrolled.condition.status == "True" else "Pending",
        fields=fields,
        requeue=enrolled.condition.status != "True",
    )


async def finalize(request: clients.Request) -> reconciler.Observation:
    """Revoke the node: its credential, account, RBAC and Lease (nothing else may remain)."""
    deleted = await enrolment.revoke(request.api, request.name)
    request.clients.checked.pop(request.name, None)
    message = "identity revoked" + (f": deleted {', '.join(deleted)}" if deleted else "")
    request.logger.info("Node revoked", extra={"node": request.name, "deleted": deleted})
    metrics.forget(request.name, request.spec.site)
    condition = reconciler.ConditionUpdate(reasons.ENROLLED, "False", reasons.REVOKED, message)
    return reconciler.Observation(conditions=(condition,), phase="Pending")
