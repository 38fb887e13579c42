"""kopf wiring of the ServiceRelease operator: thin, everything happens in reconcile."""

from __future__ import annotations

import kopf

from meridian.core.api.v1alpha1 import servicerelease
from meridian.operators.machinery import wiring
from meridian.operators.machinery.settings import OperatorSettings
from meridian.operators.release import reconcile
from meridian.operators.release.settings import ServiceReleaseSettings


def register(
    registry: kopf.OperatorRegistry, process: OperatorSettings, settings: ServiceReleaseSettings
) -> None:
    async def open_clients() -> reconcile.Clients:
        return await reconcile.open_clients(settings)

    wiring.register(
        registry,
        servicerelease.KIND,
        reconcile.reconcile,
        connections=wiring.Connections(open_clients, reconcile.close_clients),
        # A rollout is timed (pauses, analysis intervals, deadlines): its own, shorter tick.
        resync_s=min(process.resync_s, settings.tick_s),
    )
