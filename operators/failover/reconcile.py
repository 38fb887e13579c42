"""Reconcile of a FailoverPlan: from its spec and the world to an Observation, idempotently.

Foundation stage: the object is accepted and watched, and its status says so; the provisioning
logic lands with the FailoverPlan operator issue.
"""

from __future__ import annotations

from meridian.core.api.v1alpha1 import failoverplan
from meridian.operators.failover import reasons
from meridian.operators.machinery import reconciler


async def reconcile(
    request: reconciler.Request[failoverplan.FailoverPlanSpec, None],
) -> reconciler.Observation:
    return reconciler.accepted(failoverplan.KIND, reasons.RECONCILING)
