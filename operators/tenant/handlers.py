"""kopf wiring of the Tenant operator: thin, everything happens in reconcile and offboarding."""

from __future__ import annotations

from typing import Any

import kopf

from meridian.core.api.v1alpha1 import tenant
from meridian.operators import kit
from meridian.operators.settings import OperatorSettings
from meridian.operators.tenant import clients, kubernetes, offboarding, owned, reconcile


def register(registry: kopf.OperatorRegistry, settings: OperatorSettings) -> None:
    clients.required(settings)  # fail now, naming the variable, not at the first tenant

    @kopf.on.startup(registry=registry)
    async def open_clients(**_: Any) -> None:
        await clients.open_clients(settings)

    @kopf.on.cleanup(registry=registry)
    async def close_clients(**_: Any) -> None:
        await clients.close_clients()

    owned.register(registry)
    kubernetes.register(registry)
    kit.register(
        registry,
        tenant.KIND,
        reconcile.reconcile,
        resync_seconds=settings.resync_seconds,
        finalize=offboarding.finalize,
    )
