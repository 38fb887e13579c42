"""The heartbeat sweep: Ready between resyncs, the agents' reports, and the wave's pulse.

Every `heartbeat_check_s` one sweep looks at every node this replica is active for and runs the
full `tick` only for a node that needs it: its Ready verdict (from the Lease book) differs from
its status, its body changed since its last tick (the agent reported, someone edited it), its
lastHeartbeatTime is due, its maintenance windows may have opened or closed, or its wave is not
converged. A tick rebuilds the node's live conditions from memory and writes status only when
they changed, under the same per-node lock as the reconcile, so the two never interleave; a node
not yet on its desired version asks its site's wave for a step (at most one per site per
`wave_interval_s`). A settled fleet costs one cheap comparison per node per sweep and no API call.

Which nodes this replica is active for, kopf decides: each EdgeNode gets a daemon that does
nothing but hold its place in the `Fleet` with the live body kopf keeps current; kopf peering
stops every daemon of a paused replica, so a paused replica sweeps nothing.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from collections.abc import Mapping
from typing import Any, NamedTuple

import kopf
import pydantic
from lightkube.types import PatchType

from meridian.core.api.v1alpha1 import GROUP, VERSION, edgenode
from meridian.operators.edge import (
    clients,
    heartbeat,
    leases,
    metrics,
    observe,
    reasons,
    rollout,
    waves,
)
from meridian.operators.edge.settings import EdgeNodeSettings
from meridian.operators.machinery import metrics as machinery_metrics
from meridian.operators.machinery import reconciler, status, wiring

TICKS_AT_ONCE = 16
"""Nodes ticked concurrently in one sweep (a wave step lists every node: do not queue behind it)."""

log = logging.getLogger(__name__)


class Member(NamedTuple):
    body: kopf.Body
    """kopf's live view of the node: always its latest version."""
    logger: kopf.Logger


class Fleet:
    """The nodes this replica is active for, and the body version each was last ticked at."""

    def __init__(self) -> None:
        self.members: dict[str, Member] = {}
        self.ticked: dict[str, str] = {}

    def join(self, name: str, member: Member) -> None:
        self.members[name] = member

    def leave(self, name: str, member: Member) -> None:
        if self.members.get(name) is member:
            del self.members[name]
            self.ticked.pop(name, None)


def due(
    body: Mapping[str, Any],
    ticked_version: str | None,
    book: heartbeat.Book,
    now: datetime.datetime,
    settings: EdgeNodeSettings,
) -> bool:
    """Whether a node needs its full tick this sweep (cheap: no validation, no diff)."""
    meta = body.get("metadata") or {}
    if meta.get("deletionTimestamp"):
        return False
    if meta.get("resourceVersion") != ticked_version:
        return True  # changed since its last tick: an agent report, an edit, our own write
    spec: Mapping[str, Any] = body.get("spec") or {}
    current: Mapping[str, Any] = body.get("status") or {}
    if spec.get("maintenanceWindows"):
        return True  # Held follows the clock
    ready_before = heartbeat.was_ready(current)
    site = str(spec.get("site") or "")
    seen = book.get(edgenode.lease_name(meta["name"]))
    verdict = heartbeat.assess(seen, now, settings.grace_for(site), ready_before=ready_before)
    reason = next(
        (c.get("reason") for c in current.get("conditions") or [] if c.get("type") == "Ready"),
        None,
    )
    if verdict.ready.reason != reason:
        return True
    if observe.last_seen(verdict, current, settings.last_seen_resolution_s):
        return True
    annotations: Mapping[str, str] = meta.get("annotations") or {}
    node = waves.NodeView(
        name=meta["name"],
        site=site,
        desired=str(spec.get("agentVersion")),
        reported=current.get("agentVersion"),
        ready=verdict.ready.status == "True",
        target=(current.get("upgrade") or {}).get("targetVersion"),
        phase=None,
        failed_version=None,
        held=False,
        drained_by_operator=annotations.get(edgenode.DRAINED_BY_ANNOTATION)
        == edgenode.OPERATOR_OWNER,
    )
    return not waves.converged(node)  # its site's wave needs the pulse


async def sweep(
    fleet: Fleet,
    connections: wiring.Connections[clients.Clients],
    written: status.Written,
) -> int:
    """One pass over the fleet; returns how many nodes were ticked."""
    opened = connections.clients
    now = datetime.datetime.now(datetime.UTC)
    chosen = [
        (name, member)
        for name, member in list(fleet.members.items())
        if due(member.body, fleet.ticked.get(name), opened.book, now, opened.settings)
    ]
    at_once = asyncio.Semaphore(TICKS_AT_ONCE)

    async def one(name: str, member: Member) -> None:
        async with at_once:
            try:
                await tick(member.body, member.logger, connections, written)
            except Exception as error:  # one node's failure must not stop the sweep
                member.logger.warning("Heartbeat tick failed", extra={"error": str(error)})
                return
            # The version ticked, unless our own write changed it (then once more, to learn it).
            fleet.ticked[name] = str(member.body.get("metadata", {}).get("resourceVersion"))

    await asyncio.gather(*(one(name, member) for name, member in chosen))
    return len(chosen)


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


async def sweeping(
    fleet: Fleet,
    connections: wiring.Connections[clients.Clients],
    written: status.Written,
    interval_s: float,
) -> None:
    """Sweep every `interval_s` until cancelled; the Lease watch runs beside it."""
    opened = connections.clients
    await opened.book.synced.wait()
    while True:
        started = asyncio.get_running_loop().time()
        try:
            await sweep(fleet, connections, written)
        except Exception:  # never let one bad pass end the heartbeats
            log.exception("Heartbeat sweep failed")
        elapsed = asyncio.get_running_loop().time() - started
        await asyncio.sleep(max(0.0, interval_s - elapsed))


def register(
    registry: kopf.OperatorRegistry,
    connections: wiring.Connections[clients.Clients],
    written: status.Written,
    interval_s: float,
) -> None:
    fleet = Fleet()
    tasks: list[asyncio.Task[None]] = []

    @kopf.on.startup(registry=registry)
    async def start_heartbeats(**_: Any) -> None:
        opened = connections.clients
        tasks.append(asyncio.create_task(leases.run(connections.api, opened.book)))
        tasks.append(asyncio.create_task(sweeping(fleet, connections, written, interval_s)))

    @kopf.on.cleanup(registry=registry)
    async def stop_heartbeats(**_: Any) -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        tasks.clear()

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
        name = body["metadata"]["name"]
        member = Member(body, logger)
        fleet.join(name, member)
        try:
            await stopped.wait()
        finally:
            fleet.leave(name, member)
