"""What a rollout asks of the cluster and of Prometheus at a point in time: pure and small.

The pod counts each role runs at for a canary weight (the canary never below one pod, the stable
never below its share), and whether an analysis measurement is due now; `machine` decides with
them, `reconcile` measures with `measurement_due` before it asks the machine to decide.
"""

from __future__ import annotations

import datetime
import math

from meridian.core.api.v1alpha1 import servicerelease
from meridian.core.api.v1alpha1.servicerelease_status import ServiceReleaseStatus
from meridian.operators.release import analysis


def full_size(spec: servicerelease.ServiceReleaseSpec) -> int:
    return spec.autoscaling.min_replicas if spec.autoscaling.enabled else spec.replicas


def canary_size(spec: servicerelease.ServiceReleaseSpec, weight: int) -> int:
    return max(1, math.ceil(full_size(spec) * weight / 100))


def stable_size(spec: servicerelease.ServiceReleaseSpec, weight: int) -> int:
    return math.ceil(full_size(spec) * (100 - weight) / 100)


def measurement_due(
    spec: servicerelease.ServiceReleaseSpec, status: ServiceReleaseStatus, now: datetime.datetime
) -> servicerelease.AnalysisCheck | None:
    """The analysis to query now, if the release waits on one (the caller measures, then decides)."""
    step = status.current_step
    steps = spec.strategy.canary_steps
    if status.phase not in ("Progressing", None) or status.canary_revision is None:
        return None
    if step is None or step >= len(steps):
        return None
    check = steps[step].analysis
    if check is None:
        return None
    run = status.analysis
    if run is None or run.step != step or run.revision != status.canary_revision:
        return check
    if run.phase != "Running":
        return None
    return check if analysis.next_due(check, run) <= now else None
