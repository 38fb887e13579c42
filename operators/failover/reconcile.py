"""Reconcile of a FailoverPlan: from its spec and the world to an Observation, idempotently.

Foundation stage: the object is accepted and watched, and its status says so; the provisioning
logic lands with the FailoverPlan operator issue.
"""

from __future__ import annotations

from meridian.core.api.v1alpha1 import failoverplan
from meridian.operators import kit
from meridian.operators.failover import reasons


async def reconcile(request: kit.Request[failoverplan.FailoverPlanSpec]) -> kit.Observation:
    return kit.accepted(failoverplan.KIND, reasons.RECONCILING)
