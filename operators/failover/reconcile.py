"""Reconcile of a FailoverPlan: resume or start the requested run, then measure readiness.

A run is requested by `spec.run.id`; the journal in `status.run` says whether that id already
ran. The status is re-read from the apiserver before anything starts, never trusted from the
event's body, so a stale body can never start a run twice. Standing by, the resync timer
(`readiness_interval_s`) re-evaluates readiness; the Observation carries the conditions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightkube.types import PatchType

from meridian.core.api.v1alpha1 import failoverplan as api_types
from meridian.operators.failover import (
    clients,
    guards,
    journal,
    metrics,
    readiness,
    reasons,
    runner,
    sides,
    steps,
)
from meridian.operators.machinery import reconciler
from meridian.operators.machinery.reconciler import ConditionUpdate


def wanted(spec: api_types.FailoverPlanSpec, status: Mapping[str, Any]) -> bool:
    """Whether status says a run must be executed now: one in progress, or a new id requested."""
    run = status.get("run") or {}
    if run.get("state") == "Running":
        return True
    return spec.run is not None and spec.run.id != run.get("id")


def _saver(request: clients.Request) -> journal.Saver:
    async def save(run: journal.Run, active: str | None) -> None:
        status: dict[str, Any] = {"run": run}
        if active:
            status["activeCluster"] = active
        await request.api.patch(
            guards.RESOURCE.Status,
            request.name,
            {"status": status},
            namespace=request.namespace,
            patch_type=PatchType.MERGE,
        )

    return save


async def _run(request: clients.Request, status: Mapping[str, Any]) -> Mapping[str, Any]:
    spec, opened = request.spec, request.clients
    save = _saver(request)
    run = status.get("run") or {}
    active = status.get("activeCluster") or spec.source_cluster.name
    if run.get("state") != "Running":
        assert spec.run is not None
        run = journal.new_run(spec.run)
        uid = str(request.body.get("metadata", {}).get("uid"))
        conflict = await guards.conflicting_run(request.api, uid, spec)
        if conflict:
            journal.finish(
                run, "Preflight", "Failed", f"refused: {conflict} moves the same database", []
            )
            run.update(
                state="Failed",
                finishedAt=journal.now(),
                message=f"refused, nothing changed: {conflict} is running on the same database",
            )
            await save(run, None)
            return {**status, "run": run}
        await save(run, None)
    move = sides.of(spec, run["direction"])
    ctx = steps.Context(
        request.api,
        request.namespace or "",
        spec,
        opened.settings,
        opened.route53,
        move,
        run,
        active,
        save,
        status.get("lag"),
    )
    run = await runner.execute(ctx, save, request)
    fresh = await request.api.get(guards.RESOURCE, request.name, namespace=request.namespace)
    return guards.status_of(fresh)


def _summary(ready: ConditionUpdate, run: Mapping[str, Any]) -> tuple[ConditionUpdate, str]:
    state = run.get("state")
    if state == "Running":
        return ConditionUpdate(
            reconciler.READY, "Unknown", reasons.RUNNING, f"run {run.get('id')} in progress"
        ), "Running"
    if state == "Failed":
        return ConditionUpdate(
            reconciler.READY,
            "False",
            reasons.FAILED,
            f"run {run.get('id')}: {run.get('message')}"[:4000],
        ), "Failed"
    phase = "StandingBy" if ready.status == "True" else "NotReady"
    return ConditionUpdate(reconciler.READY, ready.status, ready.reason, ready.message), phase


async def reconcile(request: clients.Request) -> reconciler.Observation:
    spec, opened = request.spec, request.clients
    status: Mapping[str, Any] = request.status
    if wanted(spec, status):
        fresh = await request.api.get(guards.RESOURCE, request.name, namespace=request.namespace)
        status = guards.status_of(fresh)
        if wanted(spec, status):
            status = await _run(request, status)
    active = status.get("activeCluster") or spec.source_cluster.name
    found = await readiness.evaluate(
        request.api, request.namespace or "", spec, active, opened.route53, opened.settings
    )
    run = status.get("run") or {}
    ready, phase = _summary(found.ready, run)
    _export(f"{request.namespace}/{request.name}", found, run)
    fields: dict[str, Any] = {"activeCluster": active}
    if found.lag is not None:
        fields["lag"] = found.lag
    if run:
        fields["run"] = run
    return reconciler.Observation(conditions=(*found.conditions, ready), phase=phase, fields=fields)


def _export(plan: str, found: readiness.Readiness, run: Mapping[str, Any]) -> None:
    metrics.READY_TO_FAILOVER.labels(plan).set(1 if found.ready.status == "True" else 0)
    lag = found.lag or {}
    if lag.get("bytes") is not None:
        metrics.REPLICA_LAG_BYTES.labels(plan).set(lag["bytes"])
    if lag.get("seconds") is not None:
        metrics.REPLICA_LAG_SECONDS.labels(plan).set(lag["seconds"])
    if run.get("rtoSeconds") is not None:
        metrics.RTO_SECONDS.labels(plan).set(run["rtoSeconds"])
    if run.get("rpoBytes") is not None:
        metrics.RPO_BYTES.labels(plan).set(run["rpoBytes"])
