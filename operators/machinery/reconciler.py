"""The contract between the machinery and one kind's reconcile: `Request` in, `Observation` out.

A reconcile takes the typed spec, the current status and the operator's clients, and returns an
`Observation`: the conditions it measured, a phase and any other status fields. It does not write
status itself; `wiring` does, only when something changed. kopf errors keep their meaning: raise
`kopf.TemporaryError` to retry with a delay, `kopf.PermanentError` to stop retrying.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, NamedTuple, TypeVar

import kopf
import pydantic
from lightkube import AsyncClient

from meridian.core.api.v1alpha1.meta import ApiModel, ConditionStatus, Kind

SpecT = TypeVar("SpecT", bound=ApiModel)
ClientsT = TypeVar("ClientsT")

READY = "Ready"
INVALID_SPEC = "InvalidSpec"


class ConditionUpdate(NamedTuple):
    type: str
    status: ConditionStatus
    reason: str
    message: str


@dataclass(frozen=True)
class Observation:
    """What one reconcile found: conditions (Ready last, summarising), phase, other status fields."""

    conditions: tuple[ConditionUpdate, ...]
    phase: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)
    requeue: bool = False
    """Not converged yet (something is missing or failing): write this status, then reconcile
    again after a backoff. False means done until the next change or resync."""


@dataclass(frozen=True)
class Request(Generic[SpecT, ClientsT]):
    name: str
    namespace: str | None
    generation: int
    spec: SpecT
    status: Mapping[str, Any]
    body: kopf.Body
    logger: kopf.Logger
    api: AsyncClient
    """The operator's Kubernetes client (field manager `meridian-operator`)."""
    clients: ClientsT
    """What the operator opened at start-up (its pools and SDK clients); None when it needs none."""
    indexes: Mapping[str, kopf.Index[Any, Any]] = field(default_factory=dict)
    """The operator's kopf indexes (its in-memory view of the objects it owns), by index id."""
    attempts_failed: int = 0
    """How many reconciles of this object in a row ended in a requeue or error (kopf's `retry`);
    0 on the first try. The next backoff grows with it."""

    @property
    def deleting(self) -> bool:
        return bool(self.body.get("metadata", {}).get("deletionTimestamp"))


Reconciler = Callable[[Request[SpecT, ClientsT]], Awaitable[Observation]]


def accepted(kind: Kind, reason: str) -> Observation:
    """First sight of an object whose reconcile logic is still to come: Ready=Unknown, Pending."""
    message = f"{kind.kind} accepted and watched; reconciliation logic is not implemented yet"
    return Observation(
        conditions=(ConditionUpdate(READY, "Unknown", reason, message),), phase="Pending"
    )


def invalid_spec(error: pydantic.ValidationError) -> Observation:
    """A spec the API accepted but the model refuses (a stale CRD): say so in status, do not retry."""
    problems = "; ".join(
        f"spec.{'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
        for item in error.errors()
    )
    return Observation(conditions=(ConditionUpdate(READY, "False", INVALID_SPEC, problems[:2000]),))
