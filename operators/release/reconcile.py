"""Reconcile of a ServiceRelease: observe, decide (the pure machine), act in order, report.

Level-triggered from the release's status and the cluster, never from an event's diff: the
timer (`settings.tick_s`) runs this for every release, so timed pauses, analysis intervals and
progress deadlines need no memory of their own, and an operator killed at any point resumes at
the step its status names. The machine's status comes back as status fields; the conditions
(Available, Progressing, Ready) summarise it.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

import aiohttp
from lightkube.core.exceptions import ApiError

from meridian.core.api.v1alpha1 import servicerelease
from meridian.core.api.v1alpha1.servicerelease_status import ServiceReleaseStatus
from meridian.core.runtime import client
from meridian.operators.machinery import reconciler
from meridian.operators.release import (
    cluster,
    decision,
    machine,
    plan,
    prometheus,
    reasons,
    resources,
)
from meridian.operators.release.settings import ServiceReleaseSettings

_OWN_FIELDS = {"conditions", "observedGeneration", "phase"}


@dataclass(frozen=True)
class Clients:
    settings: ServiceReleaseSettings
    http: aiohttp.ClientSession


async def open_clients(settings: ServiceReleaseSettings) -> Clients:
    return Clients(settings, client.create_session(total=settings.query_timeout_s, connect=2.0))


async def close_clients(clients: Clients) -> None:
    await clients.http.close()


Request = reconciler.Request[servicerelease.ServiceReleaseSpec, Clients]


def release_of(request: Request) -> resources.Release:
    settings = request.clients.settings
    return resources.Release(
        name=request.name,
        namespace=request.namespace or "default",
        uid=str(request.body["metadata"]["uid"]),
        spec=request.spec,
        placement=resources.Placement(settings.node_selector, tuple(settings.tolerations)),
        gateway=resources.GatewayRef(settings.gateway_name, settings.gateway_namespace),
    )


async def _measure(request: Request, status: ServiceReleaseStatus, now: datetime.datetime) -> Any:
    check = plan.measurement_due(request.spec, status, now)
    if check is None:
        return None
    settings = request.clients.settings
    return await prometheus.measure(request.clients.http, settings.prometheus_url, check, now)


def conditions(
    spec: servicerelease.ServiceReleaseSpec, status: ServiceReleaseStatus, world: decision.World
) -> tuple[reconciler.ConditionUpdate, ...]:
    size = plan.full_size(spec)
    available = world.pods.get(("stable", status.stable_revision or ""), decision.Pods()).available
    if available >= size and status.stable_revision:
        available_condition = reconciler.ConditionUpdate(
            reasons.AVAILABLE,
            "True",
            reasons.HEALTHY,
            f"{available}/{size} pods of {status.stable_revision}",
        )
    else:
        available_condition = reconciler.ConditionUpdate(
            reasons.AVAILABLE, "False", reasons.RECONCILING, f"{available}/{size} stable pods"
        )
    phase = status.phase or "Pending"
    rolling = status.canary_revision is not None
    progressing = reconciler.ConditionUpdate(
        reasons.PROGRESSING,
        "True" if rolling else "False",
        phase,
        status.message,
    )
    if phase == "Healthy":
        ready = reconciler.ConditionUpdate(
            reconciler.READY, "True", reasons.HEALTHY, status.message
        )
    elif phase == "Aborted" and status.abort is not None:
        ready = reconciler.ConditionUpdate(
            reconciler.READY, "False", status.abort.reason, status.message
        )
    else:
        ready = reconciler.ConditionUpdate(reconciler.READY, "False", phase, status.message)
    return available_condition, progressing, ready


async def reconcile(request: Request) -> reconciler.Observation:
    release = release_of(request)
    api = request.api
    status = ServiceReleaseStatus.model_validate(dict(request.status))
    try:
        # Services, PDB and HPA before any Deployment (the admission webhook refuses a
        # Deployment of replicas > 1 that no PDB covers yet, meridian-pdb-required), and on
        # every tick, not only on a spec change: drift is repaired within a tick.
        repaired = await cluster.repair(api, resources.fixed(release))
        now = datetime.datetime.now(datetime.UTC)
        pods = await cluster.observe(api, release)
        world = decision.World(now, pods, await _measure(request, status, now))
        decided = machine.decide(request.spec, status, world)
        written = repaired + await cluster.carry_out(api, release, request.body, decided.actions)
    except ApiError as error:
        message = f"the cluster refused: {error.status.message}"
        failed = reconciler.ConditionUpdate(
            reconciler.READY, "False", reasons.APPLY_FAILED, message[:2000]
        )
        return reconciler.Observation(conditions=(failed,), requeue=True)
    if written:
        request.logger.info("Release applied", extra={"release": request.name, "objects": written})
    new = decided.status
    new.ready_replicas = sum(p.available for p in pods.values())
    fields = {
        key: value
        for key, value in new.model_dump(by_alias=True, mode="json").items()
        if key not in _OWN_FIELDS
    }
    return reconciler.Observation(
        conditions=conditions(request.spec, new, world), phase=new.phase, fields=fields
    )
