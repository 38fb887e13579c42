"""kopf wiring of the Tenant operator: thin, everything happens in reconcile and offboarding."""

from __future__ import annotations

import kopf

from meridian.core.api.v1alpha1 import tenant
from meridian.operators.machinery import wiring
from meridian.operators.machinery.settings import OperatorSettings
from meridian.operators.tenant import clients, kubernetes, offboarding, owned, reconcile
from meridian.operators.tenant.settings import TenantSettings


def register(
    registry: kopf.OperatorRegistry, process: OperatorSettings, settings: TenantSettings
) -> None:
    clients.required(settings)  # fail now, naming the variable, not at the first tenant

    async def open_clients() -> clients.Clients:
        return await clients.open_clients(settings)

    connections = wiring.Connections(open_clients, clients.close_clients)
    owned.register(registry)
    kubernetes.register(registry, connections, reconcile.peers(settings))
    wiring.register(
        registry,
        tenant.KIND,
        reconcile.reconcile,
        connections=connections,
        resync_s=process.resync_s,
        finalize=offboarding.finalize,
    )
