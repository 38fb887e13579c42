"""A node's live conditions: ConfigApplied, maintenance windows, Upgraded, lastHeartbeatTime."""

from __future__ import annotations

import datetime

from meridian.core.api.v1alpha1 import edgenode
from meridian.operators.edge import heartbeat, observe
from meridian.operators.machinery import reconciler

SPEC = edgenode.EdgeNodeSpec.model_validate(
    {"site": "nyc1", "address": "10.0.0.1", "agentVersion": "1.1.0", "config": {"a": "1"}}
)
# 2026-11-26 is a Thursday.
THU_0230 = datetime.datetime(2026, 11, 26, 2, 30, tzinfo=datetime.UTC)


def test_config_is_applied_when_the_hashes_match() -> None:
    status = {"appliedConfigHash": edgenode.config_hash({"a": "1"})}
    assert observe.config_applied(SPEC, status).status == "True"


def test_a_config_error_is_the_reason_and_message() -> None:
    status = {"appliedConfigHash": "old", "configError": "nginx -t failed"}
    condition = observe.config_applied(SPEC, status)
    assert (condition.status, condition.reason) == ("False", "ConfigRejected")
    assert "nginx -t failed" in condition.message


def test_an_unapplied_config_is_pending_with_both_hashes() -> None:
    condition = observe.config_applied(SPEC, {"appliedConfigHash": "0123456789abcdef"})
    assert (condition.status, condition.reason) == ("False", "Pending")
    assert "0123456789ab" in condition.message


def window(days: list[str], start: str, minutes: int) -> edgenode.MaintenanceWindow:
    return edgenode.MaintenanceWindow.model_validate(
        {"days": days, "start": start, "durationMinutes": minutes}
    )


def test_inside_and_outside_a_maintenance_window() -> None:
    windows = [window(["Thu"], "02:00", 60)]
    assert observe.in_window(windows, THU_0230)
    assert not observe.in_window(windows, THU_0230 + datetime.timedelta(hours=1))
    assert not observe.in_window(windows, THU_0230 - datetime.timedelta(days=1))


def test_a_window_may_run_past_midnight() -> None:
    windows = [window(["Wed"], "23:00", 240)]
    assert observe.in_window(windows, THU_0230)


def test_drain_holds_unless_the_operator_set_it() -> None:
    drained = SPEC.model_copy(update={"drain": True})
    assert observe.hold(drained, {}, THU_0230) == "spec.drain is set"
    mine = {edgenode.DRAINED_BY_ANNOTATION: edgenode.OPERATOR_OWNER}
    assert observe.hold(drained, mine, THU_0230) is None


def test_upgraded_says_why_a_node_waits() -> None:
    status = {"agentVersion": "1.0.0"}
    assert observe.upgraded(SPEC, status, {}, halted=True, held=None).reason == "WaveHalted"
    assert observe.upgraded(SPEC, status, {}, halted=False, held="x").reason == "Held"
    waiting = observe.upgraded(SPEC, status, {}, halted=False, held=None)
    assert waiting.reason == "WaitingForTurn"
    running = {"agentVersion": "1.1.0"}
    assert observe.upgraded(SPEC, running, {}, halted=True, held=None).status == "True"


def _verdict(seconds: float, ready: str = "True") -> heartbeat.Verdict:
    seen = THU_0230 + datetime.timedelta(seconds=seconds)
    reason = "LeaseRenewed" if ready == "True" else "LeaseExpired"
    return heartbeat.Verdict(reconciler.ConditionUpdate("Ready", ready, reason, ""), seen)


def test_last_heartbeat_time_is_written_at_the_resolution_not_every_renewal() -> None:
    status = {
        "lastHeartbeatTime": "2026-11-26T02:30:00Z",
        "conditions": [{"type": "Ready", "status": "True", "reason": "LeaseRenewed"}],
    }
    assert observe.last_seen(_verdict(10), status, 60) == {}
    assert observe.last_seen(_verdict(60), status, 60) == {
        "lastHeartbeatTime": "2026-11-26T02:31:00Z"
    }


def test_last_heartbeat_time_is_written_on_a_transition() -> None:
    status = {
        "lastHeartbeatTime": "2026-11-26T02:30:00Z",
        "conditions": [{"type": "Ready", "status": "Unknown", "reason": "LeaseExpired"}],
    }
    assert observe.last_seen(_verdict(10), status, 60) == {
        "lastHeartbeatTime": "2026-11-26T02:30:10Z"
    }


def test_held_says_why_changes_wait() -> None:
    windows = [window(["Thu"], "02:00", 60)]
    spec = SPEC.model_copy(update={"maintenance_windows": windows})
    outside = observe.hold(spec, {}, THU_0230 + datetime.timedelta(hours=2))
    assert outside == "outside its maintenance windows"
    condition = observe.held_condition(outside)
    assert (condition.status, condition.reason) == ("True", "ChangesHeld")
    assert observe.held_condition(observe.hold(spec, {}, THU_0230)).status == "False"
    pending = observe.config_applied(spec, {}, outside)
    assert pending.message.endswith("held: outside its maintenance windows")


def test_a_timed_out_upgrade_says_so_in_the_upgraded_condition() -> None:
    spec = edgenode.EdgeNodeSpec.model_validate(
        {"site": "nyc1", "role": "cache", "address": "127.0.0.1", "agentVersion": "1.1.0"}
    )
    annotations = {
        edgenode.UPGRADE_FAILED_ANNOTATION: "1.1.0",
        edgenode.UPGRADE_TIMED_OUT_ANNOTATION: "1.1.0",
    }
    status = {"agentVersion": "1.0.0", "upgrade": {"targetVersion": "1.1.0", "phase": "Running"}}
    condition = observe.upgraded(spec, status, annotations, halted=True, held=None)
    assert (condition.status, condition.reason) == ("False", "UpgradeTimedOut")
    assert "resume --site nyc1" in condition.message
