"""The wave planner: per-site limit, waiting for healthy, failure budget, offline and held nodes."""

from __future__ import annotations

import datetime

from meridian.operators.edge import waves

NEW = "1.1.0"
OLD = "1.0.0"


def node(
    name: str,
    site: str = "nyc1",
    *,
    reported: str | None = OLD,
    ready: bool = True,
    target: str | None = None,
    phase: str | None = None,
    failed: str | None = None,
    held: bool = False,
    ours: bool = False,
) -> waves.NodeView:
    return waves.NodeView(name, site, NEW, reported, ready, target, phase, failed, held, ours)


def plan(
    nodes: list[waves.NodeView], site: str = "nyc1", n: int = 1, budget: int = 0
) -> waves.SitePlan:
    return waves.plan_site(site, nodes, max_unavailable=n, failure_budget=budget)


def test_at_most_n_nodes_start_in_name_order() -> None:
    site = [node(f"n{i}") for i in (3, 1, 4, 2)]
    assert plan(site, n=2).start == ("n1", "n2")


def test_nodes_in_flight_use_up_the_limit() -> None:
    site = [node("n1", target=NEW, phase="Running"), node("n2"), node("n3")]
    assert plan(site, n=2).start == ("n2",)
    assert plan(site, n=1).start == ()


def test_a_node_that_reports_the_new_version_but_is_not_ready_is_still_in_flight() -> None:
    site = [node("n1", target=NEW, reported=NEW, ready=False), node("n2")]
    result = plan(site, n=1)
    assert result.start == ()
    assert result.in_flight == 1


def test_the_next_node_starts_once_the_last_reports_the_new_version_ready() -> None:
    site = [node("n1", target=NEW, reported=NEW, phase="Succeeded"), node("n2")]
    result = plan(site, n=1)
    assert result.start == ("n2",)
    assert result.done == 1


def test_an_offline_node_counts_as_unavailable_and_is_never_started() -> None:
    site = [node("n1", ready=False), node("n2"), node("n3")]
    assert plan(site, n=1).start == ()
    assert plan(site, n=2).start == ("n2",)


def test_an_offline_node_in_another_site_does_not_block_this_one() -> None:
    fleet = [node("a1", "ams1", ready=False), node("n1"), node("n2")]
    assert plan(fleet, "nyc1", n=1).start == ("n1",)
    assert plan(fleet, "ams1", n=1).start == ()


def test_one_failure_over_the_budget_halts_the_site_and_is_annotated() -> None:
    site = [node("n1", target=NEW, phase="Failed"), node("n2"), node("n3")]
    result = plan(site, n=2, budget=0)
    assert result.halted
    assert result.start == ()
    assert result.newly_failed == ("n1",)


def test_failures_within_the_budget_let_the_wave_go_on() -> None:
    site = [node("n1", target=NEW, phase="Failed", failed=NEW), node("n2"), node("n3")]
    result = plan(site, n=1, budget=1)
    assert not result.halted
    assert result.start == ("n2",)
    assert result.newly_failed == ()


def test_an_annotated_failure_halts_even_if_the_agent_later_reports_success() -> None:
    """Only `edge resume` (which removes the annotation) lifts a halt; the node cannot."""
    site = [node("n1", target=NEW, phase="Succeeded", failed=NEW), node("n2")]
    assert plan(site).halted


def test_a_halted_site_does_not_halt_another() -> None:
    fleet = [node("n1", target=NEW, phase="Failed"), node("a1", "ams1")]
    assert plan(fleet, "nyc1").halted
    assert plan(fleet, "ams1").start == ("a1",)


def test_held_nodes_wait_and_others_go_first() -> None:
    site = [node("n1", held=True), node("n2")]
    assert plan(site).start == ("n2",)


def test_a_node_given_its_target_is_not_started_again() -> None:
    """Re-planning after an operator restart repeats nothing: the target is in status."""
    site = [node("n1", target=NEW), node("n2", target=NEW)]
    assert plan(site, n=2).start == ()


def test_a_node_already_on_the_version_needs_no_turn() -> None:
    site = [node("n1", reported=NEW), node("n2")]
    result = plan(site)
    assert result.start == ("n2",)
    assert waves.converged(site[0])
    assert not waves.converged(site[1])


def test_a_node_whose_agent_never_reported_a_version_is_not_upgraded_blind() -> None:
    site = [node("n1", reported=None), node("n2")]
    assert plan(site, n=2).start == ("n2",)
    assert waves.converged(site[0])


def test_only_finished_nodes_the_operator_drained_are_undrained() -> None:
    site = [
        node("n1", target=NEW, reported=NEW, ours=True),  # done, drained by us: release
        node("n2", target=NEW, reported=NEW),  # done, never drained by us: leave
        node("n3", target=NEW, phase="Failed", ours=True),  # failed: stays drained
        node("n4", target=NEW, phase="Running", ours=True),  # in flight: stays drained
    ]
    assert plan(site, n=4, budget=4).release == ("n1",)


def test_a_finished_node_still_drained_by_the_operator_keeps_its_site_planned() -> None:
    """The last node of a wave: done, but its undrain is what the next step does."""
    assert not waves.converged(node("n1", target=NEW, reported=NEW, ours=True))
    assert waves.converged(node("n1", target=NEW, reported=NEW))


T0 = datetime.datetime(2026, 11, 27, 10, 0, tzinfo=datetime.UTC)
TIMEOUT_S = 600.0


def late(seconds: float, nodes: list[waves.NodeView], budget: int = 0) -> waves.SitePlan:
    now = T0 + datetime.timedelta(seconds=seconds)
    return waves.plan_site(
        "nyc1", nodes, max_unavailable=1, failure_budget=budget, now=now, timeout_s=TIMEOUT_S
    )


def test_a_node_stuck_in_its_upgrade_past_the_timeout_counts_as_failed() -> None:
    stuck = node("n1", target=NEW, phase="Running")._replace(started=T0)
    site = [stuck, node("n2"), node("n3")]
    within = late(TIMEOUT_S, site, budget=1)
    assert (within.in_flight, within.failed, within.timed_out, within.start) == (1, 0, (), ())
    past = late(TIMEOUT_S + 1, site, budget=1)
    assert (past.failed, past.in_flight, past.newly_failed, past.timed_out) == (
        1,
        0,
        ("n1",),
        ("n1",),
    )
    assert past.start == ("n2",)  # its slot is free again: the budget (1) tolerates it
    assert not past.halted


def test_a_timed_out_node_beyond_the_budget_halts_the_site() -> None:
    stuck = node("n1", target=NEW, phase="Running")._replace(started=T0)
    result = late(TIMEOUT_S + 1, [stuck, node("n2")], budget=0)
    assert result.halted
    assert result.start == ()
    assert result.newly_failed == ("n1",)


def test_once_annotated_a_timed_out_node_is_failed_not_newly() -> None:
    stuck = node("n1", target=NEW, phase="Running", failed=NEW)._replace(started=T0)
    result = late(TIMEOUT_S + 1, [stuck], budget=0)
    assert (result.failed, result.newly_failed, result.timed_out) == (1, (), ())


def test_a_late_node_that_reports_the_new_version_ready_is_done_not_failed() -> None:
    upgraded = node("n1", target=NEW, reported=NEW, phase="Succeeded")._replace(started=T0)
    result = late(TIMEOUT_S * 3, [upgraded])
    assert (result.done, result.failed, result.timed_out) == (1, 0, ())


def test_without_a_start_time_no_node_times_out() -> None:
    """Nodes started before the operator recorded startedTime are never failed blind."""
    result = late(TIMEOUT_S * 3, [node("n1", target=NEW, phase="Running")])
    assert (result.in_flight, result.failed) == (1, 0)
