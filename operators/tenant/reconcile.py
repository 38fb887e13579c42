"""Reconcile of a Tenant: from its spec and the world to an Observation, idempotently.

Foundation stage: the object is accepted and watched, and its status says so; the provisioning
logic lands with the Tenant operator issue.
"""

from __future__ import annotations

from meridian.core.api.v1alpha1 import tenant
from meridian.operators import kit
from meridian.operators.tenant import reasons


async def reconcile(request: kit.Request[tenant.TenantSpec]) -> kit.Observation:
    return kit.accepted(tenant.KIND, reasons.RECONCILING)
