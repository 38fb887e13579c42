"""Reconcile of a ServiceRelease: from its spec and the world to an Observation, idempotently.

Foundation stage: the object is accepted and watched, status says so; the provisioning logic
lands with the ServiceRelease operator issue.
"""

from __future__ import annotations

from meridian.core.api.v1alpha1.servicerelease import ServiceReleaseSpec
from meridian.operators import kit
from meridian.operators.release import reasons


async def reconcile(request: kit.Request[ServiceReleaseSpec]) -> kit.Observation:
    return kit.Observation(
        conditions=(
            kit.ConditionUpdate(
                type=kit.READY,
                status="Unknown",
                reason=reasons.RECONCILING,
                message="ServiceRelease accepted and watched; reconciliation logic is not implemented yet",
            ),
        ),
        phase="Pending",
    )
