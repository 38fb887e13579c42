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
    wiring.register(
        registry,
        servicerelease.KIND,
        reconcile.reconcile,
        connections=wiring.Connections.kubernetes_only(),
        resync_s=process.resync_s,
    )
