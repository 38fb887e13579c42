"""kopf wiring of the EdgeNode operator: thin; everything happens in reconcile, watcher, rollout."""

from __future__ import annotations

import asyncio
import datetime

import kopf

from meridian.core.api.v1alpha1 import edgenode
from meridian.operators.edge import (
    clients,
    credentials,
    heartbeat,
    owned,
    reconcile,
    rollout,
    watcher,
)
from meridian.operators.edge.settings import EdgeNodeSettings
from meridian.operators.machinery import wiring
from meridian.operators.machinery.settings import OperatorSettings


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def register(
    registry: kopf.OperatorRegistry, process: OperatorSettings, settings: EdgeNodeSettings
) -> None:
    book = heartbeat.Book(_now)

    async def open_clients() -> clients.Clients:
        return clients.Clients(
            settings=settings,
            book=book,
            waves=rollout.Waves(settings, book),
            endpoint=credentials.endpoint(settings),
            enrolments=asyncio.Semaphore(settings.enrol_concurrency),
        )

    async def close_clients(_: clients.Clients) -> None:
        return None

    connections = wiring.Connections(open_clients, close_clients)
    owned.register(registry)
    written = wiring.register(
        registry,
        edgenode.KIND,
        reconcile.reconcile,
        connections=connections,
        resync_s=process.resync_s,
        finalize=reconcile.finalize,
    )
    watcher.register(registry, connections, written, settings.heartbeat_check_s)
