"""The run journal and the sides of a move: pure parts of the FailoverPlan operator."""

from __future__ import annotations

from meridian.core.api.v1alpha1 import failoverplan
from meridian.localplatform import drplan
from meridian.operators.failover import journal, reconcile, sides


def _spec() -> failoverplan.FailoverPlanSpec:
    return failoverplan.FailoverPlanSpec.model_validate(drplan.plan()["spec"])


def test_planned_run_waits_for_replay_and_emergency_does_not() -> None:
    planned = journal.new_run(failoverplan.RunRequest(id="a", mode="Planned"))
    emergency = journal.new_run(failoverplan.RunRequest(id="b", mode="Emergency"))
    assert [s["name"] for s in planned["steps"]][:5] == [
        "Preflight",
        "Reseed",
        "FenceSource",
        "WaitForReplay",
        "Promote",
    ]
    assert "WaitForReplay" not in [s["name"] for s in emergency["steps"]]
    assert all(s["state"] == "Pending" for s in planned["steps"])


def test_a_finished_step_is_passed_and_keeps_what_it_changed() -> None:
    run = journal.new_run(failoverplan.RunRequest(id="a"))
    journal.start(run, "FenceSource")
    assert not journal.passed(run, "FenceSource")
    journal.finish(run, "FenceSource", "Succeeded", "fenced", ["orders 2→0"])
    step = journal.step(run, "FenceSource")
    assert journal.passed(run, "FenceSource")
    assert step["changed"] == ["orders 2→0"]
    assert step["startedAt"] <= step["finishedAt"]
    assert dict((s, t) for s, _, t in journal.durations(run))["FenceSource"] is not None


def test_restarting_a_step_keeps_its_first_start_time() -> None:
    run = journal.new_run(failoverplan.RunRequest(id="a"))
    journal.start(run, "Promote")
    first = journal.step(run, "Promote")["startedAt"]
    journal.start(run, "Promote")  # resumed after a restart
    assert journal.step(run, "Promote")["startedAt"] == first


def test_failback_swaps_every_side() -> None:
    spec = _spec()
    back = sides.of(spec, "ToSource")
    assert back.from_cluster.name == "dr"
    assert back.to_db.credentials_secret == drplan.PRIMARY_SECRET
    assert back.to_value == drplan.SOURCE_VALUE
    assert sides.standing_by(spec, "dr") == back
    assert sides.standing_by(spec, None) == sides.of(spec, "ToTarget")


def test_a_run_is_wanted_once_per_id_and_resumed_while_running() -> None:
    spec = _spec().model_copy(update={"run": failoverplan.RunRequest(id="r1")})
    assert reconcile.wanted(spec, {})
    assert not reconcile.wanted(spec, {"run": {"id": "r1", "state": "Succeeded"}})
    assert not reconcile.wanted(spec, {"run": {"id": "r1", "state": "Failed"}})
    assert reconcile.wanted(spec, {"run": {"id": "r0", "state": "Succeeded"}})
    assert reconcile.wanted(
        spec.model_copy(update={"run": None}), {"run": {"id": "r0", "state": "Running"}}
    )
