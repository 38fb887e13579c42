"""Reconcile of a ServiceRelease: from its spec and the world to an Observation, idempotently.

Foundation stage: the object is accepted and watched, and its status says so; the provisioning
logic lands with the ServiceRelease operator issue.
"""

from __future__ import annotations

from meridian.core.api.v1alpha1 import servicerelease
from meridian.operators.machinery import reconciler
from meridian.operators.release import reasons


async def reconcile(
    request: reconciler.Request[servicerelease.ServiceReleaseSpec, None],
) -> reconciler.Observation:
    return reconciler.accepted(servicerelease.KIND, reasons.RECONCILING)
