"""kopf wiring of the FailoverPlan operator: thin; runs and readiness happen in reconcile."""

from __future__ import annotations

import kopf

from meridian.core.api.v1alpha1 import failoverplan
from meridian.operators.failover import clients, reconcile
from meridian.operators.failover.settings import FailoverPlanSettings
from meridian.operators.machinery import wiring
from meridian.operators.machinery.settings import OperatorSettings


def register(
    registry: kopf.OperatorRegistry, process: OperatorSettings, settings: FailoverPlanSettings
) -> None:
    async def open_clients() -> clients.Clients:
        return await clients.open_clients(settings)

    wiring.register(
        registry,
        failoverplan.KIND,
        reconcile.reconcile,
        connections=wiring.Connections(open_clients, clients.close_clients),
        # Standing by is re-evaluated on this interval, whatever the process-wide resync.
        resync_s=settings.readiness_interval_s,
    )
