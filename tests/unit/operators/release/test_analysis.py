"""One measurement's verdict and a run's outcome (the analysis step's rules)."""

from __future__ import annotations

import pytest

from meridian.core.api.v1alpha1.servicerelease import AnalysisCheck
from meridian.core.api.v1alpha1.servicerelease_status import Measurement
from meridian.operators.release import analysis

AT = "2026-11-27T09:00:00.000Z"


def _check(**fields: object) -> AnalysisCheck:
    return AnalysisCheck.model_validate(
        {"query": "q", "successCondition": "result < 0.01", **fields}
    )


@pytest.mark.parametrize(
    ("condition", "value", "expected"),
    [
        ("result < 0.01", 0.001, True),
        ("result < 0.01", 0.01, False),
        ("result >= 0 && result < 5", 4.0, True),
        ("result >= 0 && result < 5", -1.0, False),
        ("result < 0 || result > 10", 11.0, True),
        ("result == 1", 1.0, True),
    ],
)
def test_conditions_compare_the_result(condition: str, value: float, expected: bool) -> None:
    assert analysis.holds(condition, value) is expected


def test_a_condition_outside_the_grammar_is_an_error() -> None:
    with pytest.raises(ValueError, match="not a condition"):
        analysis.holds("__import__('os')", 1.0)


def test_no_value_is_inconclusive_with_the_reason() -> None:
    measurement = analysis.judge(_check(), None, AT, "connection refused")
    assert (measurement.phase, measurement.message) == ("Inconclusive", "connection refused")


def test_without_a_failure_condition_missing_success_fails() -> None:
    assert analysis.judge(_check(), 0.5, AT).phase == "Failed"


def test_with_a_failure_condition_a_value_between_is_inconclusive() -> None:
    check = _check(failureCondition="result >= 0.05")
    assert analysis.judge(check, 0.02, AT).phase == "Inconclusive"
    assert analysis.judge(check, 0.05, AT).phase == "Failed"
    assert analysis.judge(check, 0.0, AT).phase == "Successful"


def _run(*phases: str) -> list[Measurement]:
    return [Measurement(at=AT, phase=phase) for phase in phases]  # type: ignore[arg-type]


def test_inconclusive_neither_breaks_nor_extends_a_failure_streak() -> None:
    assert analysis.consecutive_failures(_run("Failed", "Inconclusive", "Failed")) == 2
    assert analysis.consecutive_failures(_run("Failed", "Successful", "Failed")) == 1


def test_a_run_succeeds_only_after_count_measurements() -> None:
    check = _check(count=3)
    assert analysis.outcome(check, _run("Successful", "Successful")) == "Running"
    assert analysis.outcome(check, _run("Successful") * 3) == "Successful"


def test_inconclusive_beyond_the_limit_is_never_a_pass() -> None:
    check = _check(count=2, inconclusiveLimit=1)
    assert analysis.outcome(check, _run("Successful", "Inconclusive")) == "Running"
    assert analysis.outcome(check, _run("Inconclusive", "Inconclusive")) == "Inconclusive"


def test_durations_add_up() -> None:
    assert analysis.seconds("1h30m") == 5400
    assert analysis.seconds("500ms") == 0.5
