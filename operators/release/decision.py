"""What the release state machine sees and what it asks for: plain values, no behaviour.

`reconcile` builds a `World` from the cluster (and a Prometheus measurement when one is due),
`machine.decide` answers a `Decision`, and `reconcile` carries out its actions in order.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Literal, NamedTuple

from meridian.core.api.v1alpha1.servicerelease_status import (
    Measurement,
    ServiceReleaseStatus,
    Template,
)
from meridian.operators.release.resources import Role


class Pods(NamedTuple):
    """Pods of one revision in one role's Deployment (its ReplicaSet's available replicas)."""

    available: int = 0
    crash_looping: int = 0
    ready_since: tuple[datetime.datetime, ...] = ()
    """When each of its pods Ready now became Ready (the kubelet's time), oldest first: an abort
    records when its stable reached full size from these, not from when the operator looked."""


class World(NamedTuple):
    now: datetime.datetime
    pods: Mapping[tuple[Role, str], Pods]
    measurement: Measurement | None = None
    """Taken by the caller because `measurement_due` said so."""


class Apply(NamedTuple):
    """Apply `role`'s Deployment running `template` at `replicas` pods."""

    role: Role
    revision: str
    template: Template
    replicas: int


class SetWeight(NamedTuple):
    """Write the HTTPRoute's weights: `weight` % to the canary Service, the rest to stable."""

    weight: int


class RemoveCanary(NamedTuple):
    """Scale the canary Deployment to nothing."""


class Announce(NamedTuple):
    """An Event on the release."""

    type: Literal["Normal", "Warning"]
    reason: str
    message: str


Action = Apply | SetWeight | RemoveCanary | Announce


class Decision(NamedTuple):
    status: ServiceReleaseStatus
    actions: tuple[Action, ...]
    requeue_after: float | None
