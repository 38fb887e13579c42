"""Reconcile of a EdgeNode: from its spec and the world to an Observation, idempotently.

Foundation stage: the object is accepted and watched, and its status says so; the provisioning
logic lands with the EdgeNode operator issue.
"""

from __future__ import annotations

from meridian.core.api.v1alpha1 import edgenode
from meridian.operators import kit
from meridian.operators.edge import reasons


async def reconcile(request: kit.Request[edgenode.EdgeNodeSpec]) -> kit.Observation:
    return kit.accepted(edgenode.KIND, reasons.RECONCILING)
