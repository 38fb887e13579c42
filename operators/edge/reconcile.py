"""Reconcile of a EdgeNode: from its spec and the world to an Observation, idempotently.

Foundation stage: the object is accepted and watched, status says so; the provisioning logic
lands with the EdgeNode operator issue.
"""

from __future__ import annotations

from meridian.core.api.v1alpha1.edgenode import EdgeNodeSpec
from meridian.operators import kit
from meridian.operators.edge import reasons


async def reconcile(request: kit.Request[EdgeNodeSpec]) -> kit.Observation:
    return kit.Observation(
        conditions=(
            kit.ConditionUpdate(
                type=kit.READY,
                status="Unknown",
                reason=reasons.RECONCILING,
                message="EdgeNode accepted and watched; reconciliation logic is not implemented yet",
            ),
        ),
        phase="Pending",
    )
