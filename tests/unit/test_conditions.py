"""set_condition and the operators' status diff: quiet when nothing changed, loud when something did."""

from __future__ import annotations

import kopf

from meridian.core import conditions
from meridian.operators.machinery import reconciler, status

RECONCILING = reconciler.Observation(
    conditions=(reconciler.ConditionUpdate("Ready", "Unknown", "Reconciling", "working on it"),),
    phase="Pending",
)


def test_first_condition_is_added_with_a_transition_time() -> None:
    updated, change = conditions.set_condition(
        [],
        type="Ready",
        status="Unknown",
        reason="Reconciling",
        message="m",
        generation=1,
        now="T1",
    )
    assert updated == [
        {
            "type": "Ready",
            "status": "Unknown",
            "reason": "Reconciling",
            "message": "m",
            "lastTransitionTime": "T1",
            "observedGeneration": 1,
        }
    ]
    assert change == conditions.ConditionChange("Ready", "Unknown", "Reconciling", "m")


def test_same_status_keeps_the_transition_time_and_reports_no_change() -> None:
    first, _ = conditions.set_condition(
        [], type="Ready", status="False", reason="A", message="", generation=1, now="T1"
    )
    again, change = conditions.set_condition(
        first, type="Ready", status="False", reason="A", message="new", generation=2, now="T2"
    )
    assert again[0]["lastTransitionTime"] == "T1"
    assert again[0]["message"] == "new"
    assert again[0]["observedGeneration"] == 2
    assert change is None


def test_status_flip_moves_the_transition_time() -> None:
    first, _ = conditions.set_condition(
        [], type="Ready", status="False", reason="A", message="", generation=1, now="T1"
    )
    flipped, change = conditions.set_condition(
        first, type="Ready", status="True", reason="B", message="", generation=1, now="T2"
    )
    assert flipped[0]["lastTransitionTime"] == "T2"
    assert change is not None
    assert change.status == "True"


def test_other_conditions_are_left_alone() -> None:
    current = [
        {
            "type": "DatabaseReady",
            "status": "True",
            "reason": "Provisioned",
            "message": "",
            "lastTransitionTime": "T0",
        }
    ]
    updated, _ = conditions.set_condition(
        current, type="Ready", status="True", reason="R", message="", generation=1
    )
    assert updated[0] == current[0]
    assert [c["type"] for c in updated] == ["DatabaseReady", "Ready"]


def test_status_patch_on_first_sight_sets_generation_conditions_and_phase() -> None:
    patch, changes = status.status_patch({}, 3, RECONCILING)
    assert patch["observedGeneration"] == 3
    assert patch["phase"] == "Pending"
    assert patch["conditions"][0]["reason"] == "Reconciling"
    assert len(changes) == 1


def test_status_patch_is_empty_when_the_world_is_unchanged() -> None:
    """Level-triggered resyncs of a settled object write nothing and announce nothing."""
    patch, _ = status.status_patch({}, 3, RECONCILING)
    again, changes = status.status_patch(patch, 3, RECONCILING)
    assert again == {}
    assert changes == []


def test_status_patch_follows_a_new_generation() -> None:
    patch, _ = status.status_patch({}, 3, RECONCILING)
    again, changes = status.status_patch(patch, 4, RECONCILING)
    assert again["observedGeneration"] == 4
    assert again["conditions"][0]["observedGeneration"] == 4
    assert changes == []


def test_a_spec_the_model_refuses_sets_ready_false_naming_the_field() -> None:
    import pydantic

    from meridian.core.api.v1alpha1.edgenode import EdgeNodeSpec

    try:
        EdgeNodeSpec.model_validate({"address": "10.0.0.1", "agentVersion": "1.0.0"})
    except pydantic.ValidationError as error:
        observation = reconciler.invalid_spec(error)
    else:
        raise AssertionError("a spec without site was accepted")
    (ready,) = observation.conditions
    assert ready.status == "False"
    assert ready.reason == reconciler.INVALID_SPEC
    assert "spec.site" in ready.message


def test_a_body_from_before_our_last_write_is_diffed_against_that_write() -> None:
    """kopf's timer may get the body from before the create handler's patch: no second write."""
    written = status.Written()
    body = kopf.Body({"metadata": {"uid": "u-1", "resourceVersion": "7", "generation": 1}})
    first = reconciler.Observation(
        conditions=(reconciler.ConditionUpdate("Ready", "True", "Done", "ok"),)
    )
    changed, _ = status.status_patch(written.current(body), 1, first)
    written.remember(body, written.current(body), changed)

    again, transitions = status.status_patch(written.current(body), 1, first)
    assert (again, transitions) == ({}, [])

    newer = kopf.Body({"metadata": {"uid": "u-1", "resourceVersion": "8", "generation": 1}})
    assert written.current(newer) == {}  # a newer version is the truth, even without status
