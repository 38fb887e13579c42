"""kopf wiring of the Tenant operator: thin, everything happens in reconcile."""

from __future__ import annotations

import kopf

from meridian.core.api.v1alpha1 import tenant
from meridian.operators import kit
from meridian.operators.settings import OperatorSettings
from meridian.operators.tenant import reconcile


def register(registry: kopf.OperatorRegistry, settings: OperatorSettings) -> None:
    kit.register(registry, tenant.KIND, reconcile.reconcile, resync_seconds=settings.resync_seconds)
