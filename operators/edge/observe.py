"""What a node's status says, from its spec, its agent's report and its Lease (pure).

The reconcile and the heartbeat sweep both build a node's live conditions here, so the two
writers can never disagree: Ready (from the Lease, `heartbeat`), ConfigApplied (the desired
config's hash against the one the agent reports applied), Upgraded (its part in its site's wave),
Held (drain, or outside every maintenance window: the agent applies no new config and the wave
starts no upgrade while it is True), a phase, and lastHeartbeatTime (rewritten only on a transition or once it is older than the
resolution, so a healthy fleet costs no status writes per renewal).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from meridian.core.api.v1alpha1 import edgenode
from meridian.operators.edge import heartbeat, reasons
from meridian.operators.edge.settings import EdgeNodeSettings
from meridian.operators.machinery import reconciler

Condition = reconciler.ConditionUpdate
DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def held_condition(reason: str | None) -> Condition:
    """Held=True while disruptive changes must wait: the agent applies no new config and starts
    no upgrade (the wave gives it no target) until it is False again."""
    if reason is None:
        message = "config pushes and upgrades may proceed"
        return Condition(reasons.HELD_CONDITION, "False", reasons.NOT_HELD, message)
    message = f"config pushes and upgrades wait: {reason}"
    return Condition(reasons.HELD_CONDITION, "True", reasons.HOLDING, message)


def config_applied(
    spec: edgenode.EdgeNodeSpec, status: Mapping[str, Any], held: str | None = None
) -> Condition:
    desired = edgenode.config_hash(spec.config)
    if status.get("appliedConfigHash") == desired:
        return Condition(reasons.CONFIG_APPLIED, "True", reasons.APPLIED, f"applied {desired[:12]}")
    error = status.get("configError")
    if error:
        message = f"{desired[:12]} not applied: {error}"[:2000]
        return Condition(reasons.CONFIG_APPLIED, "False", reasons.REJECTED, message)
    applied = status.get("appliedConfigHash")
    message = f"waiting for the agent to apply {desired[:12]} (applied: {(applied or 'none')[:12]})"
    if held:
        message += f"; held: {held}"
    return Condition(reasons.CONFIG_APPLIED, "False", reasons.PENDING, message)


def in_window(windows: list[edgenode.MaintenanceWindow], now: datetime.datetime) -> bool:
    """Whether `now` (UTC) falls in one of the windows; a window may run past midnight."""
    for window in windows:
        hours, minutes = (int(part) for part in window.start.split(":"))
        for days_back in (0, 1):
            day = now - datetime.timedelta(days=days_back)
            if DAYS[day.weekday()] not in window.days:
                continue
            opens = day.replace(hour=hours, minute=minutes, second=0, microsecond=0)
            if opens <= now < opens + datetime.timedelta(minutes=window.duration_minutes):
                return True
    return False


def hold(
    spec: edgenode.EdgeNodeSpec, annotations: Mapping[str, str], now: datetime.datetime
) -> str | None:
    """Why disruptive work (an upgrade) must wait on this node, or None."""
    if spec.drain and annotations.get(edgenode.DRAINED_BY_ANNOTATION) != edgenode.OPERATOR_OWNER:
        return "spec.drain is set"
    if spec.maintenance_windows and not in_window(spec.maintenance_windows, now):
        return "outside its maintenance windows"
    return None


def upgraded(
    spec: edgenode.EdgeNodeSpec,
    status: Mapping[str, Any],
    annotations: Mapping[str, str],
    *,
    halted: bool,
    held: str | None,
) -> Condition:
    desired = spec.agent_version
    upgrade = status.get("upgrade") or {}
    if (
        annotations.get(edgenode.UPGRADE_TIMED_OUT_ANNOTATION) == desired
        and annotations.get(edgenode.UPGRADE_FAILED_ANNOTATION) == desired
        and status.get("agentVersion") != desired
    ):
        message = (
            f"upgrade to {desired} timed out: the agent did not report it Ready in time "
            f"(it counts against site {spec.site}'s failure budget; "
            f"kubectl meridian edge resume --site {spec.site})"
        )
        return Condition(reasons.UPGRADED, "False", reasons.UPGRADE_TIMED_OUT, message)
    if annotations.get(edgenode.UPGRADE_FAILED_ANNOTATION) == desired or (
        upgrade.get("targetVersion") == desired and upgrade.get("phase") == "Failed"
    ):
        message = f"upgrade to {desired} failed: {upgrade.get('message') or 'no detail'}"
        return Condition(reasons.UPGRADED, "False", reasons.UPGRADE_FAILED, message[:2000])
    if status.get("agentVersion") == desired:
        return Condition(reasons.UPGRADED, "True", reasons.UP_TO_DATE, f"running {desired}")
    if upgrade.get("targetVersion") == desired:
        phase = upgrade.get("phase") or "Pending"
        return Condition(
            reasons.UPGRADED, "False", reasons.UPGRADING, f"upgrading to {desired}: {phase}"
        )
    if halted:
        message = (
            f"the wave to {desired} in site {spec.site} is halted (failure budget exceeded); "
            f"kubectl meridian edge resume --site {spec.site}"
        )
        return Condition(reasons.UPGRADED, "False", reasons.WAVE_HALTED, message)
    if held:
        return Condition(
            reasons.UPGRADED, "False", reasons.HELD, f"upgrade to {desired} held: {held}"
        )
    message = f"waiting for its turn in site {spec.site}'s wave to {desired}"
    return Condition(reasons.UPGRADED, "False", reasons.WAITING_FOR_TURN, message)


def phase(
    ready: Condition, upgrade: Condition, spec: edgenode.EdgeNodeSpec, held: str | None
) -> str:
    if ready.reason == reasons.NEVER_HEARTBEATED:
        return "Pending"
    if ready.status != "True":
        return "NotReady"
    if upgrade.reason == reasons.UPGRADING:
        return "Upgrading"
    if spec.drain:
        return "Draining"
    if held is None and spec.maintenance_windows:
        return "Maintenance"
    return "Ready"


def _stamp(value: datetime.datetime) -> str:
    return value.astimezone(datetime.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def last_seen(
    verdict: heartbeat.Verdict, status: Mapping[str, Any], resolution_s: float
) -> dict[str, str]:
    """lastHeartbeatTime to write, if any: on a Ready transition, or once older than resolution."""
    if verdict.last_seen is None:
        return {}
    stamp = _stamp(verdict.last_seen)
    current = status.get("lastHeartbeatTime")
    previous_ready: Mapping[str, Any] = next(
        (c for c in status.get("conditions") or [] if c.get("type") == reconciler.READY), {}
    )
    transition = previous_ready.get("reason") != verdict.ready.reason
    if current is None or transition:
        return {"lastHeartbeatTime": stamp} if current != stamp else {}
    age = (verdict.last_seen - heartbeat.parse_time(current)).total_seconds()
    return {"lastHeartbeatTime": stamp} if age >= resolution_s else {}


def live(
    spec: edgenode.EdgeNodeSpec,
    status: Mapping[str, Any],
    annotations: Mapping[str, str],
    *,
    seen: heartbeat.Seen | None,
    now: datetime.datetime,
    settings: EdgeNodeSettings,
    halted: bool,
) -> reconciler.Observation:
    """Ready, ConfigApplied and Upgraded, the phase and lastHeartbeatTime of one node."""
    verdict = heartbeat.assess(
        seen, now, settings.grace_for(spec.site), ready_before=heartbeat.was_ready(status)
    )
    held = hold(spec, annotations, now)
    upgrade = upgraded(spec, status, annotations, halted=halted, held=held)
    return reconciler.Observation(
        conditions=(
            config_applied(spec, status, held),
            upgrade,
            held_condition(held),
            verdict.ready,
        ),
        phase=phase(verdict.ready, upgrade, spec, held),
        fields=last_seen(verdict, status, settings.last_seen_resolution_s),
    )
