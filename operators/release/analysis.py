"""Canary analysis, decided purely: a measurement's verdict and a run's outcome.

A query's value is judged by the step's conditions (`result < 0.01 && result >= 0`, the grammar
the CRD's pattern admits). No value (Prometheus unreachable, an error, an empty vector) is
Inconclusive, never a pass. A run fails when `consecutiveFailureLimit` measurements in a row
fail (an inconclusive one neither breaks nor extends the streak), is inconclusive when more
measurements than `inconclusiveLimit` were, and succeeds after `count` conclusive measurements
otherwise (an inconclusive one is taken again, never counted towards the pass).
"""

from __future__ import annotations

import datetime
import operator
import re
from collections.abc import Callable

from meridian.core.api.v1alpha1.servicerelease import AnalysisCheck
from meridian.core.api.v1alpha1.servicerelease_status import AnalysisRun, Measurement, RunPhase

_COMPARISON = re.compile(r"^\s*result\s*(<=|>=|==|!=|<|>)\s*(-?[0-9]+(?:\.[0-9]+)?)\s*$")
_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
_DURATION = re.compile(r"([0-9]+)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def seconds(duration: str) -> float:
    """`1h30m` -> 5400.0 (the CRD's DURATION_PATTERN)."""
    return sum(int(n) * _UNITS[unit] for n, unit in _DURATION.findall(duration))


def holds(condition: str, result: float) -> bool:
    """`||` of `&&` of comparisons, as written (`&&` binds tighter, as in CEL and PromQL)."""
    for alternative in condition.split("||"):
        terms = [_COMPARISON.match(term) for term in alternative.split("&&")]
        if any(term is None for term in terms):
            raise ValueError(f"not a condition on result: {condition!r}")
        if all(_OPERATORS[t.group(1)](result, float(t.group(2))) for t in terms if t):
            return True
    return False


def judge(check: AnalysisCheck, value: float | None, at: str, error: str = "") -> Measurement:
    """One measurement's verdict; `value` None means the query gave no number (say why)."""
    if value is None:
        return Measurement(at=at, phase="Inconclusive", message=error or "no value")
    if check.failure_condition is not None:
        if holds(check.failure_condition, value):
            return Measurement(at=at, phase="Failed", value=value)
        if holds(check.success_condition, value):
            return Measurement(at=at, phase="Successful", value=value)
        return Measurement(at=at, phase="Inconclusive", value=value, message="neither condition")
    phase = "Successful" if holds(check.success_condition, value) else "Failed"
    return Measurement(at=at, phase=phase, value=value)


def consecutive_failures(measurements: list[Measurement]) -> int:
    streak = 0
    for measurement in reversed(measurements):
        if measurement.phase == "Successful":
            break
        if measurement.phase == "Failed":
            streak += 1
    return streak


def outcome(check: AnalysisCheck, measurements: list[Measurement]) -> RunPhase:
    if consecutive_failures(measurements) >= check.consecutive_failure_limit:
        return "Failed"
    if sum(m.phase == "Inconclusive" for m in measurements) > check.inconclusive_limit:
        return "Inconclusive"
    conclusive = sum(m.phase != "Inconclusive" for m in measurements)
    return "Successful" if conclusive >= check.count else "Running"


def next_due(check: AnalysisCheck, run: AnalysisRun) -> datetime.datetime:
    """When the run's next measurement is due: at once for the first, then every interval."""
    if not run.measurements:
        return parse(run.started_at)
    return parse(run.measurements[-1].at) + datetime.timedelta(seconds=seconds(check.interval))


def iso(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def parse(moment: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(moment.replace("Z", "+00:00"))
