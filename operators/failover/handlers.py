"""kopf wiring of the FailoverPlan operator: thin, everything happens in reconcile."""

from __future__ import annotations

import kopf

from meridian.core.api.v1alpha1 import failoverplan
from meridian.operators.failover import reconcile
from meridian.operators.failover.settings import FailoverPlanSettings
from meridian.operators.machinery import wiring
from meridian.operators.machinery.settings import OperatorSettings


def register(
    registry: kopf.OperatorRegistry, process: OperatorSettings, settings: FailoverPlanSettings
) -> None:
    wiring.register(
        registry,
        failoverplan.KIND,
        reconcile.reconcile,
        connections=wiring.Connections.kubernetes_only(),
        resync_s=process.resync_s,
    )
