"""Reconcile of a EdgeNode: from its spec and the world to an Observation, idempotently.

Foundation stage: the object is accepted and watched, and its status says so; the provisioning
logic lands with the EdgeNode operator issue.
"""

from __future__ import annotations

from meridian.core.api.v1alpha1 import edgenode
from meridian.operators.edge import reasons
from meridian.operators.machinery import reconciler


async def reconcile(
    request: reconciler.Request[edgenode.EdgeNodeSpec, None],
) -> reconciler.Observation:
    return reconciler.accepted(edgenode.KIND, reasons.RECONCILING)
