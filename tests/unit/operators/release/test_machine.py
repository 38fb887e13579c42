"""The rollout state machine against the faults of Argo Rollouts and Flagger, one per test.

The example's canary (10 %, pause 2m, analysis 4 x 30s, 50 %, pause 5m, 100 %) on 3 replicas,
with a 60 s progress deadline, driven through `Simulation` (tests/unit/.../simulation.py).
"""

from __future__ import annotations

import pytest

from meridian.core.api.v1alpha1 import servicerelease
from meridian.operators.release import analysis, decision, machine, plan, reasons
from tests.unit.operators.release.conftest import spec_of
from tests.unit.operators.release.simulation import READY_AFTER, Simulation

NEW = "ghcr.io/meridian/orders:1.15.0"


def _canary(**changes: object) -> servicerelease.ServiceReleaseSpec:
    return spec_of(autoscaling={"enabled": False}, progressDeadlineSeconds=60, **changes)


@pytest.fixture
def sim() -> Simulation:
    """A release whose first revision is stable and Healthy."""
    simulation = Simulation(_canary())
    simulation.until("Healthy")
    return simulation


def _weights(sim: Simulation) -> list[int]:
    seen: list[int] = []
    for action in sim.actions(decision.SetWeight):
        if not seen or seen[-1] != action.weight:
            seen.append(action.weight)
    return seen


def test_the_first_revision_rolls_out_at_full_size_without_a_canary(sim: Simulation) -> None:
    assert sim.status.stable_revision == sim.revision_of()
    assert sim.deployments == {"stable": (sim.revision_of(), 3)}
    assert sim.status.history[0].outcome == "Promoted"


def test_a_healthy_canary_walks_every_step_and_promotes(sim: Simulation) -> None:
    sim.change(image=NEW)
    sim.until("Healthy")
    assert _weights(sim) == [0, 10, 50, 100, 0]
    assert sim.status.stable_revision == sim.revision_of()
    assert sim.deployments == {"stable": (sim.revision_of(), 3)}
    # The example's two analysis steps: error ratio, then p99 latency.
    assert [run.phase for run in sim.status.analysis_runs] == ["Successful"] * 2
    for run in sim.status.analysis_runs:
        assert [m.phase for m in run.measurements] == ["Successful"] * 4
    assert [h.outcome for h in sim.status.history] == ["Superseded", "Promoted"]


def test_a_timed_pause_holds_the_weight_for_its_duration(sim: Simulation) -> None:
    sim.change(image=NEW)
    sim.until("Paused")
    started = sim.now
    sim.until("Progressing")
    assert (sim.now - started).total_seconds() == pytest.approx(120, abs=1)
    assert sim.status.canary_weight == 10


def test_the_canary_weight_is_set_only_once_its_pods_are_available(sim: Simulation) -> None:
    sim.change(image=NEW)
    sim.until("Healthy")
    for tick in sim.ticks:
        for action in tick.decision.actions:
            if isinstance(action, decision.SetWeight) and action.weight > 0:
                canary = tick.world.pods.get(("canary", sim.revision_of()))
                assert canary is not None
                assert canary.available >= plan.canary_size(sim.spec, action.weight)


def _failing_canary_at_60(sim: Simulation) -> None:
    """A canary at 60 % (the stable down to 2 of its 3 pods) whose analysis fails: Aborted."""
    sim.change(
        image=NEW,
        strategy={
            "type": "Canary",
            "canarySteps": [
                {"setWeight": 60},
                {
                    "analysis": {
                        "query": "errors",
                        "successCondition": "result < 0.01",
                        "interval": "10s",
                    }
                },
            ],
        },
    )
    sim.query = lambda: 0.5
    sim.until("Aborted")


def test_failing_analysis_aborts_with_the_stable_ready_before_traffic_moves_back(
    sim: Simulation,
) -> None:
    _failing_canary_at_60(sim)
    stable = sim.status.stable_revision
    assert sim.status.abort is not None
    assert sim.status.abort.reason == reasons.ANALYSIS_FAILED
    # The stable was scaled down to 40 % at weight 60; traffic went back only once it was full.
    aborting = next(i for i, t in enumerate(sim.ticks) if t.decision.status.phase == "Aborting")
    back = next(
        i
        for i, tick in enumerate(sim.ticks)
        if decision.SetWeight(0) in tick.decision.actions and i >= aborting
    )
    assert aborting < back
    assert sim.ticks[aborting].world.pods[("stable", stable or "")].available == 2
    assert sim.ticks[back].world.pods[("stable", stable or "")].available == 3
    assert decision.Apply("stable", stable or "", sim.status.history[0].template, 3) in (
        sim.ticks[aborting].decision.actions
    )
    assert sim.status.abort.stable_ready_at is not None
    assert sim.status.abort.weight_restored_at is not None
    assert sim.status.abort.stable_ready_at <= sim.status.abort.weight_restored_at
    assert sim.weight == 0
    assert "canary" not in sim.deployments


def test_the_abort_records_when_the_stable_pods_got_ready_not_when_traffic_moved(
    sim: Simulation,
) -> None:
    """The stable's third pod, asked for as the abort began, got Ready 0.4 s later; the weight
    moved back at the next decision, a second after the abort. The record says so, in order,
    rather than one time stamped twice when the weight moved."""
    _failing_canary_at_60(sim)
    aborting = next(t for t in sim.ticks if t.decision.status.phase == "Aborting")
    back = next(t for t in sim.ticks if t.decision.status.phase == "Aborted")
    abort = sim.status.abort
    assert abort is not None
    assert abort.at == analysis.iso(aborting.at)
    assert abort.stable_ready_at == analysis.iso(aborting.at + READY_AFTER)
    assert abort.weight_restored_at == analysis.iso(back.at)
    assert abort.at < abort.stable_ready_at < abort.weight_restored_at


def test_a_stable_at_full_size_when_the_abort_began_was_ready_from_the_abort_on(
    sim: Simulation,
) -> None:
    """At 10 % the stable keeps its 3 pods (Ready long before): no wait, and no time before the
    abort's own recorded for it."""
    sim.change(image=NEW)
    sim.until("Paused")
    assert sim.status.canary_weight == 10
    sim.ask("abort")
    sim.until("Aborted")
    abort = sim.status.abort
    assert abort is not None
    assert abort.at == abort.stable_ready_at == abort.weight_restored_at


def test_pods_that_never_get_ready_are_aborted_at_the_progress_deadline(sim: Simulation) -> None:
    """Argo Rollouts #4128: neither abort nor progressDeadline fired."""
    sim.change(image=NEW)
    sim.never_ready.add(sim.revision_of())
    sim.run(55)
    assert sim.status.phase == "Progressing"
    sim.until("Aborted")
    assert sim.status.abort is not None
    assert sim.status.abort.reason == reasons.PROGRESS_DEADLINE
    assert (sim.now - sim.ticks[0].at).total_seconds() >= 60
    assert sim.weight == 0


def test_crash_looping_pods_do_not_reset_progress(sim: Simulation) -> None:
    """Argo Rollouts #3765: the flapping ready count kept the rollout alive for ever."""
    sim.change(image=NEW)
    sim.crash_looping.add(sim.revision_of())
    sim.until("Aborted", limit=200)
    assert sim.status.abort is not None
    assert sim.status.abort.reason == reasons.CRASH_LOOPING
    assert sim.status.history[-1].outcome == "Aborted"


def test_abort_wins_over_a_pending_full_promote(sim: Simulation) -> None:
    """Argo Rollouts #4461 (abort ignored once a full promote was asked) and Flagger #1588 (a
    canary stuck in Promoting could not be rolled back)."""
    sim.change(image=NEW)
    sim.until("Paused")
    sim.ask("promote", full=True)
    sim.never_ready.add(sim.revision_of())  # the promote stays pending: new pods never Ready
    sim.step()
    assert (sim.status.phase, sim.status.promote_full) == ("Promoting", True)
    sim.ask("abort")
    sim.step()
    assert sim.status.phase in ("Aborting", "Aborted")
    assert sim.status.abort is not None
    assert sim.status.abort.reason == reasons.ABORTED_BY_HAND
    assert sim.status.promote_full is False
    sim.until("Aborted")
    assert sim.deployments["stable"][0] == sim.status.stable_revision != sim.revision_of()


def test_abort_and_promote_asked_together_abort_wins(sim: Simulation) -> None:
    sim.change(image=NEW)
    sim.until("Paused")
    sim.ask("promote", full=True)
    sim.ask("abort")
    sim.until("Aborted")
    assert reasons.ACTION_IGNORED in sim.reasons()
    assert sim.status.stable_revision != sim.revision_of()


def test_the_revision_after_an_abort_rolls_out_normally(sim: Simulation) -> None:
    """Argo Rollouts #3082 / #2048: the next revision was auto-aborted or stuck."""
    sim.change(image=NEW)
    sim.until("Paused")
    sim.ask("abort")
    sim.until("Aborted")
    sim.change(image="ghcr.io/meridian/orders:1.15.1")
    sim.step()
    assert sim.status.phase == "Progressing"
    assert sim.status.current_step is not None
    assert sim.status.analysis is None
    sim.until("Healthy")
    assert sim.status.stable_revision == sim.revision_of()


def test_an_abort_is_the_releases_current_one_only_until_another_rollout_starts(
    sim: Simulation,
) -> None:
    """`kubectl meridian release status` showed an earlier revision's abort as if it were the
    last rollout's, after a later revision had rolled out fine."""
    assert not machine.abort_is_current(sim.spec, sim.status)
    sim.change(image=NEW)
    sim.until("Paused")
    sim.ask("abort")
    sim.step()
    assert sim.status.phase in ("Aborting", "Aborted")
    assert machine.abort_is_current(sim.spec, sim.status)
    sim.until("Aborted")
    sim.run(5)
    assert machine.abort_is_current(sim.spec, sim.status)
    sim.change(image="ghcr.io/meridian/orders:1.15.1")
    sim.step()
    assert sim.status.phase == "Progressing"
    assert not machine.abort_is_current(sim.spec, sim.status)
    sim.until("Healthy")
    assert sim.status.abort is not None  # kept, as the last abort
    assert not machine.abort_is_current(sim.spec, sim.status)


def test_a_retried_abort_is_history_once_the_retry_starts_and_after_it_is_promoted(
    sim: Simulation,
) -> None:
    sim.change(image=NEW)
    sim.until("Paused")
    sim.ask("abort")
    sim.until("Aborted")
    sim.ask("retry")
    sim.step()
    assert sim.status.canary_revision == sim.revision_of()
    assert not machine.abort_is_current(sim.spec, sim.status)
    sim.until("Healthy")
    assert sim.status.stable_revision == sim.revision_of()
    assert not machine.abort_is_current(sim.spec, sim.status)


def test_an_aborted_revision_stays_aborted_until_retried(sim: Simulation) -> None:
    sim.change(image=NEW)
    sim.until("Paused")
    sim.ask("abort")
    sim.until("Aborted")
    sim.run(30)
    assert sim.status.phase == "Aborted"
    sim.ask("retry")
    sim.step()
    assert sim.status.current_step == 0
    sim.until("Healthy")
    assert sim.status.stable_revision == sim.revision_of()


def test_reapplying_the_same_actions_repeats_nothing(sim: Simulation) -> None:
    sim.change(image=NEW)
    sim.until("Paused")
    sim.ask("promote")  # skip the 2 minute pause
    sim.step()
    assert sim.status.current_step == 2
    sim.run(5)  # the same spec, re-read: the promote count is already handled
    assert sim.status.current_step == 2
    assert sim.status.actions_handled.promote == 1


def test_a_manual_pause_holds_until_resumed(sim: Simulation) -> None:
    sim.change(image=NEW)
    sim.until("Paused")
    sim.ask("pause")
    sim.run(600)
    assert (sim.status.phase, sim.status.current_step) == ("Paused", 1)
    sim.ask("resume")
    sim.until("Healthy")


def test_an_untimed_pause_waits_for_resume() -> None:
    sim = Simulation(
        _canary(
            strategy={
                "type": "Canary",
                "canarySteps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 100}],
            }
        )
    )
    sim.until("Healthy")
    sim.change(image=NEW)
    sim.until("Paused")
    sim.run(3600, every=60)
    assert sim.status.phase == "Paused"
    sim.ask("resume")
    sim.until("Healthy")
    assert sim.status.stable_revision == sim.revision_of()


def test_an_unreachable_prometheus_is_never_a_pass(sim: Simulation) -> None:
    sim.change(image=NEW)
    sim.query = lambda: None
    sim.run(600)
    assert sim.status.phase == "Paused"
    assert sim.status.analysis is not None
    assert sim.status.analysis.phase == "Inconclusive"
    assert sim.status.stable_revision != sim.revision_of()
    assert sim.status.canary_weight == 10


def test_resume_reruns_an_inconclusive_analysis(sim: Simulation) -> None:
    sim.change(image=NEW)
    sim.query = lambda: None
    sim.run(300)  # the 2 minute pause, then the inconclusive analysis
    assert sim.status.analysis is not None
    assert sim.status.analysis.phase == "Inconclusive"
    sim.query = lambda: 0.0
    sim.ask("resume")
    sim.until("Healthy")
    # The error-ratio step again, then the example's second step (p99 latency).
    phases = [r.phase for r in sim.status.analysis_runs]
    assert phases == ["Inconclusive", "Successful", "Successful"]


def test_isolated_failures_below_the_consecutive_limit_do_not_abort() -> None:
    """Argo Rollouts #4792: a flaky query failing once between successes."""
    check = {
        "query": "q",
        "successCondition": "result < 1",
        "count": 4,
        "consecutiveFailureLimit": 2,
        "interval": "10s",
    }
    sim = Simulation(
        _canary(
            strategy={"type": "Canary", "canarySteps": [{"setWeight": 50}, {"analysis": check}]}
        )
    )
    sim.until("Healthy")
    values = iter([5.0, 0.0, 5.0, 0.0])
    sim.change(image=NEW)
    sim.query = lambda: next(values)
    sim.until("Healthy")
    assert sim.status.stable_revision == sim.revision_of()


def test_consecutive_failures_at_the_limit_abort() -> None:
    check = {
        "query": "q",
        "successCondition": "result < 1",
        "count": 4,
        "consecutiveFailureLimit": 2,
        "interval": "10s",
    }
    sim = Simulation(
        _canary(
            strategy={"type": "Canary", "canarySteps": [{"setWeight": 50}, {"analysis": check}]}
        )
    )
    sim.until("Healthy")
    sim.change(image=NEW)
    sim.query = lambda: 5.0
    sim.until("Aborted")
    run = sim.status.analysis_runs[-1]
    assert [m.phase for m in run.measurements] == ["Failed", "Failed"]


def test_rollback_goes_to_the_named_revision_and_stays_until_the_spec_changes(
    sim: Simulation,
) -> None:
    first = sim.status.stable_revision
    sim.change(image=NEW)
    sim.until("Healthy")
    sim.ask("rollback", revision=1)
    sim.until("Healthy")
    assert sim.status.stable_revision == first
    sim.run(30)
    assert sim.status.stable_revision == first
    sim.change(image="ghcr.io/meridian/orders:1.16.0")
    sim.until("Healthy")
    assert sim.status.stable_revision == sim.revision_of()


def test_a_config_change_is_rolled_out_as_a_new_revision(sim: Simulation) -> None:
    before = sim.status.stable_revision
    sim.change(config={"MERIDIAN_ORDERS_INVENTORY_URL": "http://inventory:8080"})
    sim.step()
    assert sim.status.canary_revision not in (None, before)


def test_history_stays_bounded(sim: Simulation) -> None:
    sim.change(revision_history_limit=3)
    for patch in range(6):
        sim.change(image=f"ghcr.io/meridian/orders:2.0.{patch}")
        sim.step()
        sim.ask("promote", full=True)
        sim.until("Healthy")
    assert len(sim.status.history) == 3
    assert sim.status.history[-1].revision == 7


def test_deciding_twice_on_the_same_status_changes_nothing_more(sim: Simulation) -> None:
    """The operator killed after acting but before writing status decides the same again."""
    sim.change(image=NEW)
    sim.until("Paused")
    world = sim.ticks[-1].world
    again = machine.decide(sim.spec, sim.status, world)
    assert again.status == sim.status


def test_a_rolling_update_replaces_the_stable_in_place() -> None:
    sim = Simulation(_canary(strategy={"type": "RollingUpdate"}))
    sim.until("Healthy")
    sim.change(image=NEW)
    sim.until("Healthy")
    assert sim.deployments == {"stable": (sim.revision_of(), 3)}
    assert set(_weights(sim)) == {0}


def test_a_rolling_update_that_never_gets_ready_goes_back_to_the_stable() -> None:
    sim = Simulation(_canary(strategy={"type": "RollingUpdate"}))
    sim.until("Healthy")
    old = sim.status.stable_revision
    sim.change(image=NEW)
    sim.never_ready.add(sim.revision_of())
    sim.until("Aborted")
    assert sim.deployments["stable"][0] == old
