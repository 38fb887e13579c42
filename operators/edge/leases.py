"""The operator's one watch on the nodes' Leases: it feeds the heartbeat book, nothing else.

A fleet renews a Lease per node every 10 s (100 events/s at 1,000 nodes); each event only records,
on the operator's clock, that a renewTime changed. Handing those events to kopf (its per-object
machinery, an index, a handler) cost most of a core; this is a plain list-then-watch with the
project's client. A failed or closed stream is listed again from scratch (with jittered backoff):
unchanged renewTimes keep the time they were first seen, Leases gone meanwhile are forgotten.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import random
from typing import Any

from lightkube import AsyncClient
from lightkube.resources.coordination_v1 import Lease

from meridian.core.runtime import resilience
from meridian.operators.edge import heartbeat, resources

BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0

SELECTOR: dict[str, Any] = dict(resources.SELECTOR)

log = logging.getLogger(__name__)


def _renew_time(lease: Lease) -> str | None:
    value = lease.spec.renewTime if lease.spec else None
    if value is None:
        return None
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return str(value)


def _name(lease: Lease) -> str | None:
    return lease.metadata.name if lease.metadata else None


async def list_and_watch(api: AsyncClient, book: heartbeat.Book) -> None:
    """One pass: list every Lease into the book (marking it synced), then follow the changes
    until the stream ends or fails (raises)."""
    listing = api.list(Lease, namespace=resources.NAMESPACE, labels=SELECTOR)
    listed = set()
    async for lease in listing:
        if (name := _name(lease)) is not None:
            listed.add(name)
            book.observe(name, _renew_time(lease))
    book.retain(listed)
    book.synced.set()
    async for kind, lease in api.watch(
        Lease,
        namespace=resources.NAMESPACE,
        labels=SELECTOR,
        resource_version=listing.resourceVersion,
    ):
        if (name := _name(lease)) is None:
            continue
        if kind == "DELETED":
            book.forget(name)
        else:
            book.observe(name, _renew_time(lease))


async def run(api: AsyncClient, book: heartbeat.Book) -> None:
    """Keep the book current until cancelled."""
    failures = 0
    while True:
        try:
            await list_and_watch(api, book)
            failures = 0
        except asyncio.CancelledError:
            raise
        except Exception as error:  # any failure (API, network, decoding): list again
            log.warning("Lease watch failed; listing again", extra={"error": str(error)})
            failures += 1
        await asyncio.sleep(
            resilience.backoff(failures, base=BACKOFF_BASE_S, cap=BACKOFF_CAP_S, rng=random.random)
        )
