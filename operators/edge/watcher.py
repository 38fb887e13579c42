"""One heartbeat watcher per EdgeNode (a kopf daemon): Ready between resyncs, and the wave's pulse.

Every `heartbeat_check_s` it rebuilds the node's live conditions from memory (the Lease book, the
live body kopf keeps current) and writes status only when they changed, under the same per-node
lock as the reconcile, so the two never interleave. A node not yet on its desired version asks
its site's wave for a step (at most one per site per `wave_interval_s`, whoever asks). The tick
costs no API call while nothing changes; paused replicas run none (kopf peering).
"""

from __future__ import annotations

import datetime
from typing import Any

import kopf
import pydantic
from lightkube.types import PatchType

from meridian.core.api.v1alpha1 import GROUP, VERSION, edgenode
from meridian.operators.edge import clients, metrics, observe, reasons, rollout, waves
from meridian.operators.machinery import metrics as machinery_metrics
from meridian.operators.machinery import reconciler, status, wiring


async def tick(
    body: kopf.Body,
    logger: kopf.Logger,
    connections: wiring.Connections[clients.Clients],
    written: status.Written,
) -> None:
    meta = body.get("metadata", {})
    if meta.get("deletionTimestamp"):
        return
    try:
        spec = edgenode.EdgeNodeSpec.model_validate(body.get("spec") or {})
    except pydantic.ValidationError:
        return  # the reconcile reports it
    opened, api, name = connections.clients, connections.api, meta["name"]
    now = datetime.datetime.now(datetime.UTC)
    async with written.lock(body):
        current = written.current(body)
        enrolled = any(
            c.get("type") == reasons.ENROLLED and c.get("status") == "True"
            for c in current.get("conditions") or []
        )
        if not enrolled:
            return  # the reconcile enrols it first
        live = observe.live(
            spec,
            current,
            meta.get("annotations") or {},
            seen=opened.book.get(edgenode.lease_name(name)),
            now=now,
            settings=opened.settings,
            halted=opened.waves.halted(spec.site),
        )
        generation = int(current.get("observedGeneration") or 0)
        changed, transitions = status.status_patch(current, generation, live)
        if changed:
            await api.patch(rollout.STATUS, name, {"status": changed}, patch_type=PatchType.MERGE)
            written.remember(body, current, changed)
            machinery_metrics.STATUS_WRITES.labels(edgenode.KIND.kind).inc()
        for change in transitions:
            if change.type == reconciler.READY and change.reason == reasons.HEARTBEAT_EXPIRED:
                metrics.HEARTBEAT_EXPIRIES.labels(spec.site).inc()
            await wiring.announce(edgenode.KIND, api, body, change, logger)
    ready = next(c for c in live.conditions if c.type == reconciler.READY)
    metrics.NODE_READY.labels(name, spec.site).set(1 if ready.status == "True" else 0)
    node = rollout.view(body, opened.book, now, opened.settings)
    if node is not None and not waves.converged(node):
        await opened.waves.maybe_step(api, spec.site, logger)


def register(
    registry: kopf.OperatorRegistry,
    connections: wiring.Connections[clients.Clients],
    written: status.Written,
    interval_s: float,
) -> None:
    @kopf.daemon(
        GROUP,
        VERSION,
        edgenode.KIND.plural,
        id="heartbeat",
        registry=registry,
        cancellation_timeout=5.0,
    )
    async def watch_heartbeat(
        stopped: kopf.DaemonStopped, body: kopf.Body, logger: kopf.Logger, **_: Any
    ) -> None:
        while not stopped:
            await tick(body, logger, connections, written)
            await stopped.wait(interval_s)
