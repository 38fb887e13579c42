"""kopf wiring of the EdgeNode operator: thin, everything happens in reconcile."""

from __future__ import annotations

import kopf

from meridian.core.api.v1alpha1 import edgenode
from meridian.operators import kit
from meridian.operators.edge import reconcile
from meridian.operators.settings import OperatorSettings


def register(registry: kopf.OperatorRegistry, settings: OperatorSettings) -> None:
    kit.register(
        registry, edgenode.KIND, reconcile.reconcile, resync_seconds=settings.resync_seconds
    )
