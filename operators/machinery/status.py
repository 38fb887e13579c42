"""Status as the machinery writes it: only the fields that changed, and never twice.

`status_patch` diffs an Observation against the current status (conditions keep their
lastTransitionTime unless their status flips), so a settled object's resync writes nothing.
`Written` remembers our last write per object, for the timer that runs beside change handlers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import kopf

from meridian.core import conditions
from meridian.operators.machinery.reconciler import Observation

StatusDiff = tuple[dict[str, Any], list[conditions.ConditionChange]]


def status_patch(
    current: Mapping[str, Any], generation: int, observation: Observation
) -> StatusDiff:
    """The status fields that differ from `current`, and the condition changes to announce."""
    merged: list[dict[str, Any]] = [dict(c) for c in current.get("conditions") or []]
    changes = []
    for update in observation.conditions:
        merged, change = conditions.set_condition(
            merged,
            type=update.type,
            status=update.status,
            reason=update.reason,
            message=update.message,
            generation=generation,
        )
        if change:
            changes.append(change)
    desired: dict[str, Any] = {"observedGeneration": generation, "conditions": merged}
    if observation.phase is not None:
        desired["phase"] = observation.phase
    desired.update(observation.fields)
    patch = {key: value for key, value in desired.items() if current.get(key) != value}
    return patch, changes


class _Write(NamedTuple):
    resource_version: str
    status: Mapping[str, Any]
    at: float


class Written:
    """Our last status write per object (by uid), and one lock per object.

    kopf runs a timer concurrently with change handlers; under load the timer can get a body
    from before the create handler's status patch, and would write (and announce) everything
    again. When the body is still the very version we computed our last write from, that write
    is the better truth. Short-lived (`ttl`), so a lost patch is never hidden for long.
    """

    def __init__(self, ttl: float = 30.0) -> None:
        self._ttl = ttl
        self._writes: dict[str, _Write] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def lock(self, body: kopf.Body) -> asyncio.Lock:
        """One reconcile of an object at a time: kopf runs its timer beside the change handlers."""
        return self._locks.setdefault(_uid(body), asyncio.Lock())

    def current(self, body: kopf.Body) -> Mapping[str, Any]:
        """The status to diff against: the body's, unless kopf has not yet seen our last write."""
        meta = body.get("metadata", {})
        status: Mapping[str, Any] = body.get("status") or {}
        written = self._writes.get(_uid(body))
        if (
            written
            and written.resource_version == meta.get("resourceVersion")
            and time.monotonic() - written.at < self._ttl
        ):
            return {**status, **written.status}
        return status

    def remember(
        self, body: kopf.Body, current: Mapping[str, Any], changed: Mapping[str, Any]
    ) -> None:
        now = time.monotonic()
        for uid in [uid for uid, write in self._writes.items() if now - write.at >= self._ttl]:
            del self._writes[uid]
            if uid in self._locks and not self._locks[uid].locked():
                del self._locks[uid]
        version = str(body.get("metadata", {}).get("resourceVersion"))
        self._writes[_uid(body)] = _Write(version, {**current, **changed}, now)


def _uid(body: kopf.Body) -> str:
    return str(body.get("metadata", {}).get("uid"))
