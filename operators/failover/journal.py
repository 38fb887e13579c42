"""A run's journal in status.run: plain camelCase dicts, written after every step transition.

The journal is the run's memory across operator restarts: which steps are done, what each
changed, and the facts a resumed run must not re-derive (the fenced LSN, the source's replicas
before the fence, whether promotion and the DNS switch happened). `Saver` writes it through the
status subresource at once, not at the end of the reconcile, so a SIGKILL loses at most the
step that was running, and that step checks the world before acting again.
"""

from __future__ import annotations

import datetime
from collections.abc import Awaitable, Callable
from typing import Any

from meridian.core.api.v1alpha1 import failoverplan as api_types

Run = dict[str, Any]
Step = dict[str, Any]
Saver = Callable[[Run, str | None], Awaitable[None]]
"""Writes status.run (and status.activeCluster when given) at once."""

PLANNED: tuple[api_types.StepName, ...] = (
    "Preflight",
    "Reseed",
    "FenceSource",
    "WaitForReplay",
    "Promote",
    "RepointServices",
    "ScaleUpTarget",
    "SwitchDNS",
    "Verify",
    "ReseedSource",
)
EMERGENCY: tuple[api_types.StepName, ...] = tuple(
    s for s in PLANNED if s not in ("Reseed", "WaitForReplay", "ReseedSource")
)
"""No re-seeds: the source is gone (nothing to re-seed the target from, nothing to re-seed);
the next run's Reseed step brings it back."""
NON_IDEMPOTENT_AFTER: api_types.StepName = "Promote"
"""From this step on a failure never undoes anything: both sides could otherwise be writable."""


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


def seconds_between(start: str, end: str) -> float:
    return (
        datetime.datetime.fromisoformat(end) - datetime.datetime.fromisoformat(start)
    ).total_seconds()


def steps_of(mode: api_types.RunMode) -> tuple[api_types.StepName, ...]:
    return EMERGENCY if mode == "Emergency" else PLANNED


def new_run(request: api_types.RunRequest) -> Run:
    return {
        "id": request.id,
        "mode": request.mode,
        "direction": request.direction,
        "state": "Running",
        "startedAt": now(),
        "message": request.reason,
        "steps": [{"name": name, "state": "Pending"} for name in steps_of(request.mode)],
        "promoted": False,
        "dnsSwitched": False,
    }


def step(run: Run, name: str) -> Step:
    for found in run["steps"]:
        if found["name"] == name:
            return dict(found)
    raise KeyError(name)


def put(run: Run, updated: Step) -> None:
    run["steps"] = [updated if s["name"] == updated["name"] else s for s in run["steps"]]


def start(run: Run, name: str) -> None:
    current = step(run, name)
    current.update(state="Running", startedAt=current.get("startedAt") or now())
    put(run, current)


def finish(
    run: Run, name: str, state: api_types.StepState, message: str, changed: list[str]
) -> None:
    current = step(run, name)
    previous = list(current.get("changed") or [])
    current.update(
        state=state, finishedAt=now(), message=message[:4000], changed=(previous + changed)[-64:]
    )
    put(run, current)


def passed(run: Run, name: str) -> bool:
    """Whether `name` is behind us (Succeeded or Skipped): never re-run after a restart."""
    return step(run, name)["state"] in ("Succeeded", "Skipped")


def durations(run: Run) -> list[tuple[str, str, float | None]]:
    """(step, state, seconds) for the CLI's table and the benchmark."""
    rows = []
    for s in run.get("steps") or []:
        took = None
        if s.get("startedAt") and s.get("finishedAt"):
            took = seconds_between(s["startedAt"], s["finishedAt"])
        rows.append((s["name"], s["state"], took))
    return rows
