"""kopf wiring of the ServiceRelease operator: thin, everything happens in reconcile."""

from __future__ import annotations

import kopf

from meridian.core.api.v1alpha1 import servicerelease
from meridian.operators import kit
from meridian.operators.release import reconcile
from meridian.operators.settings import OperatorSettings


def register(registry: kopf.OperatorRegistry, settings: OperatorSettings) -> None:
    kit.register(
        registry, servicerelease.KIND, reconcile.reconcile, resync_seconds=settings.resync_seconds
    )
