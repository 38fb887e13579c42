"""metav1.Condition bookkeeping: the one `set_condition()` every operator uses.

Conditions are keyed by type; lastTransitionTime moves only when status changes, so re-running a
reconcile that observes the same world writes nothing new (level-triggered and quiet when idle).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from meridian.core.api.v1alpha1.meta import ConditionStatus


class ConditionChange(NamedTuple):
    """A condition whose status or reason moved: worth an Event."""

    type: str
    status: ConditionStatus
    reason: str
    message: str


def _now() -> str:
    return (
        datetime.datetime.now(datetime.UTC)
        .replace(microsecond=0)
        .isoformat()
        .replace("+00:00", "Z")
    )


def set_condition(
    conditions: Sequence[Mapping[str, Any]],
    *,
    type: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    generation: int | None,
    now: str | None = None,
) -> tuple[list[dict[str, Any]], ConditionChange | None]:
    """Return the new list and, if the status or reason changed, the change to report."""
    updated: list[dict[str, Any]] = []
    change: ConditionChange | None = ConditionChange(type, status, reason, message)
    found = False
    for condition in conditions:
        if condition.get("type") != type:
            updated.append(dict(condition))
            continue
        found = True
        same_status = condition.get("status") == status
        if same_status and condition.get("reason") == reason:
            change = None
        updated.append(
            {
                "type": type,
                "status": status,
                "reason": reason,
                "message": message,
                "lastTransitionTime": condition.get("lastTransitionTime")
                if same_status
                else (now or _now()),
                "observedGeneration": generation,
            }
        )
    if not found:
        updated.append(
            {
                "type": type,
                "status": status,
                "reason": reason,
                "message": message,
                "lastTransitionTime": now or _now(),
                "observedGeneration": generation,
            }
        )
    return updated, change
