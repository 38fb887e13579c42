"""`meridian operator run`: the chosen operators in one kopf process.

One process may run any subset (`--only tenant,edge`), which is how the chart deploys them one per
Deployment and how tests run them together. Each operator is its own kopf operator (registry,
settings, peering) even when several share a process, so an object's finalizer always names its
kind (`meridian.io/tenant-cleanup`) whatever the process layout. Replicas of one operator elect one
active instance through kopf peering `<peering>-<operator>` (the newest replica wins, mandatory peering);
the liveness endpoint answers only while kopf's loop is healthy; /metrics serves the registry.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import time
from collections.abc import Iterable
from typing import Any

import kopf
import prometheus_client
from lightkube.models.meta_v1 import ObjectMeta

from meridian.core import kube
from meridian.core.runtime import logging as meridian_logging
from meridian.operators.machinery import operator, wiring
from meridian.operators.machinery.settings import OperatorSettings

ANNOTATION_PREFIX = "kopf.meridian.io"


def build_registry(
    found: operator.Operator[Any], settings: OperatorSettings
) -> kopf.OperatorRegistry:
    """The operator's own handlers (reading its own settings now, so a missing one stops the
    start naming its variable), plus kopf's login."""
    registry = found.build_registry(settings)

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # kopf's own loaders: the pod's service account in-cluster, KUBECONFIG elsewhere.
        return kopf.login_with_service_account(**kwargs) or kopf.login_with_kubeconfig(**kwargs)

    return registry


def kopf_settings(found: operator.Operator[Any]) -> kopf.OperatorSettings:
    settings = kopf.OperatorSettings()
    # Handler progress and the last-handled spec live in our own annotations, never in status.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=ANNOTATION_PREFIX
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATION_PREFIX
    )
    # The finalizer says which operator holds the object back: meridian.io/<kind>-cleanup.
    if found.kind is not None:
        settings.persistence.finalizer = found.kind.finalizer
    # Our own Events report transitions; kopf's per-handler chatter only when something fails.
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 300
    return settings


def peering_priority() -> int:
    """The newest replica has the highest priority: a replacement for a crashed replica takes
    over at once instead of pausing until the dead one's peering record expires (kopf's 60 s
    lifetime; observed stalls of minutes), and a rolling update hands over to the new pod.
    Milliseconds, plus a random tie-break: equal priorities would pause both replicas."""
    return time.time_ns() // 1_000_000 * 1000 + random.randint(0, 999)


def peering_name(settings: OperatorSettings, name: str) -> str:
    """Replicas of one operator elect among themselves; other operators never pause them."""
    return f"{settings.peering_name}-{name}"


async def _ensure_peerings(names: Iterable[str]) -> None:
    """Create the ClusterKopfPeerings before kopf starts: its first keep-alive must find the object,
    or the replicas would not see each other until the next keep-alive a minute later."""
    api = wiring.kubernetes_client()
    try:
        for name in names:
            await api.apply(kube.ClusterKopfPeering(metadata=ObjectMeta(name=name)))
    finally:
        await api.close()


async def _operate(operators: list[operator.Operator[Any]], settings: OperatorSettings) -> None:
    """One kopf operator per kind, each with its own settings (finalizer) and peering.

    kopf installs SIGTERM/SIGINT handlers per operator, each replacing the last; once all are up
    we install ours, which stops every operator through one shared stop flag.
    """
    registries = [(found, build_registry(found, settings)) for found in operators]
    await _ensure_peerings(peering_name(settings, found.name) for found in operators)
    stop = asyncio.Event()
    ready = [asyncio.Event() for _ in operators]
    tasks = [
        asyncio.create_task(
            kopf.operator(
                registry=registry,
                settings=kopf_settings(found),
                clusterwide=True,
                peering_name=peering_name(settings, found.name),
                priority=peering_priority(),
                # One liveness endpoint per process; the first operator's loop answers it.
                liveness_endpoint=(
                    f"http://{settings.health_host}:{settings.health_port}/healthz"
                    if index == 0
                    else None
                ),
                stop_flag=stop,
                ready_flag=ready[index],
            ),
            name=f"operator {found.name}",
        )
        for index, (found, registry) in enumerate(registries)
    ]
    await asyncio.wait(
        [asyncio.create_task(flag.wait()) for flag in ready], return_when=asyncio.ALL_COMPLETED
    )
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        task.result()


def run(only: list[str] | None = None) -> None:
    settings = OperatorSettings()
    meridian_logging.configure(settings.log_level, settings.log_json)
    operators = operator.named(only)
    names = [found.name for found in operators]
    prometheus_client.start_http_server(settings.metrics_port, addr=settings.metrics_host)
    logging.getLogger("meridian.operators").info("Operators starting", extra={"operators": names})
    asyncio.run(_operate(operators, settings))
