"""`meridian operator run`: the chosen operators in one kopf process.

One process may run any subset (`--only tenant,edge`), which is how the chart deploys them one per
Deployment and how tests run them together. Replicas elect one active instance through kopf
peering (random priority, mandatory peering); the liveness endpoint answers only while kopf's
loop is healthy; /metrics serves the Prometheus registry.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import random
from collections.abc import Iterable
from typing import Any

import kopf
import prometheus_client
from lightkube.models.meta_v1 import ObjectMeta

from meridian.core import kube
from meridian.core import logging as meridian_logging
from meridian.operators import rbac
from meridian.operators.settings import OperatorSettings

OPERATORS = {name: f"meridian.operators.{name}.handlers" for name in rbac.KIND_OF_OPERATOR}
ANNOTATION_PREFIX = "kopf.meridian.io"


def build_registry(names: Iterable[str], settings: OperatorSettings) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    for name in names:
        if name not in OPERATORS:
            raise SystemExit(f"unknown operator {name!r}; choose from {', '.join(OPERATORS)}")
        importlib.import_module(OPERATORS[name]).register(registry, settings)

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # kopf's own loaders: the pod's service account in-cluster, KUBECONFIG elsewhere.
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

    @kopf.on.startup(registry=registry)
    async def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
        # Handler progress and the last-handled spec live in our own annotations, never in status.
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
            prefix=ANNOTATION_PREFIX
        )
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix=ANNOTATION_PREFIX
        )
        # Our own Events report transitions; kopf's per-handler chatter only when something fails.
        settings.posting.level = logging.WARNING
        settings.watching.server_timeout = 300

    return registry


async def _ensure_peering(name: str) -> None:
    """Create the ClusterKopfPeering before kopf starts: its first keep-alive must find the object,
    or the replicas would not see each other until the next keep-alive a minute later."""
    api = kube.client(field_manager="meridian-operator")
    try:
        await api.apply(kube.ClusterKopfPeering(metadata=ObjectMeta(name=name)))
    finally:
        await api.close()


def run(only: list[str] | None = None) -> None:
    settings = OperatorSettings()
    meridian_logging.configure(settings.log_level, settings.log_json)
    names = only or list(OPERATORS)
    registry = build_registry(names, settings)
    asyncio.run(_ensure_peering(settings.peering_name))
    prometheus_client.start_http_server(settings.metrics_port, addr=settings.metrics_host)
    logging.getLogger("meridian.operators").info("Operators starting", extra={"operators": names})
    kopf.run(
        registry=registry,
        clusterwide=True,
        peering_name=settings.peering_name,
        priority=random.randint(1, 2**31 - 1),
        liveness_endpoint=f"http://{settings.health_host}:{settings.health_port}/healthz",
    )
