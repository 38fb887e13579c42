"""kopf wiring of the EdgeNode operator: thin, everything happens in reconcile."""

from __future__ import annotations

import kopf

from meridian.core.api.v1alpha1 import edgenode
from meridian.operators.edge import reconcile
from meridian.operators.edge.settings import EdgeNodeSettings
from meridian.operators.machinery import wiring
from meridian.operators.machinery.settings import OperatorSettings


def register(
    registry: kopf.OperatorRegistry, process: OperatorSettings, settings: EdgeNodeSettings
) -> None:
    wiring.register(
        registry,
        edgenode.KIND,
        reconcile.reconcile,
        connections=wiring.Connections.kubernetes_only(),
        resync_s=process.resync_s,
    )
