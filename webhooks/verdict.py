"""From violations to a decision: each policy's live mode turns its violation into a denial
(Enforce) or a warning (Audit). One message shape everywhere: policy, field, what is wrong, fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from meridian.core.policy.catalogue import Mode
from meridian.core.policy.violations import Violation

__all__ = ["Verdict", "Violation", "decide"]


@dataclass(frozen=True)
class Verdict:
    denials: list[str]
    warnings: list[str]
    # (policy name, mode) of each violation, for the metrics.
    counted: list[tuple[str, Mode]]


def decide(violations: Iterable[Violation], modes: Mapping[str, Mode]) -> Verdict:
    """A policy missing from `modes` (the integrity checks) keeps its catalogue mode."""
    denials: list[str] = []
    warnings: list[str] = []
    counted: list[tuple[str, Mode]] = []
    for violation in violations:
        mode = modes.get(violation.policy.name, violation.policy.mode)
        counted.append((violation.policy.name, mode))
        if mode is Mode.ENFORCE:
            denials.append(violation.text())
        else:
            warnings.append(f"{violation.text()} (audit mode: will be denied once enforced)")
    return Verdict(denials, warnings, counted)
