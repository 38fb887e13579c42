"""Whether a requested run may start: nothing else may be moving the same database.

One run at a time per plan holds by construction (a plan's runs are executed in its reconcile,
one reconcile per object at a time, a running run resumed before any new one). Across plans,
every FailoverPlan in the cluster is read: one with a run in progress that names the same
PostgreSQL endpoint (host, port, database) refuses the new run.
"""

from __future__ import annotations

from typing import Any

from lightkube import AsyncClient
from lightkube.generic_resource import create_namespaced_resource

from meridian.core.api.v1alpha1 import failoverplan as api_types
from meridian.core.api.v1alpha1 import meta

RESOURCE = create_namespaced_resource(
    meta.GROUP, meta.VERSION, api_types.KIND.kind, api_types.KIND.plural
)


def status_of(obj: Any) -> dict[str, Any]:
    """A generic resource's status as a dict (lightkube types it loosely)."""
    status = getattr(obj, "status", None)
    return dict(status) if isinstance(status, dict) else {}


def _endpoints(spec: api_types.FailoverPlanSpec) -> set[tuple[str, int, str]]:
    return {(e.host, e.port, e.database) for e in (spec.database.primary, spec.database.replica)}


async def conflicting_run(
    api: AsyncClient, uid: str, spec: api_types.FailoverPlanSpec
) -> str | None:
    """`namespace/name run id` of another plan's run in progress on the same database, if any."""
    mine = _endpoints(spec)
    async for other in api.list(RESOURCE, namespace="*"):
        meta = other.metadata
        if meta is None or meta.uid == uid:
            continue
        run = status_of(other).get("run") or {}
        if run.get("state") != "Running":
            continue
        try:
            theirs = _endpoints(api_types.FailoverPlanSpec.model_validate(other.spec or {}))
        except ValueError:
            continue
        if mine & theirs:
            return f"{meta.namespace}/{meta.name} run {run.get('id')}"
    return None
