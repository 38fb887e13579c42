"""Reconcile of a FailoverPlan: from its spec and the world to an Observation, idempotently.

Foundation stage: the object is accepted and watched, status says so; the provisioning logic
lands with the FailoverPlan operator issue.
"""

from __future__ import annotations

from meridian.core.api.v1alpha1.failoverplan import FailoverPlanSpec
from meridian.operators import kit
from meridian.operators.failover import reasons


async def reconcile(request: kit.Request[FailoverPlanSpec]) -> kit.Observation:
    return kit.Observation(
        conditions=(
            kit.ConditionUpdate(
                type=kit.READY,
                status="Unknown",
                reason=reasons.RECONCILING,
                message="FailoverPlan accepted and watched; reconciliation logic is not implemented yet",
            ),
        ),
        phase="Pending",
    )
