"""The usage stream into `meridian_billing`: each batch committed once, then acknowledged.

Per entry of `contracts.USAGE_STREAM` (read through the consumer group, so replicas share it):
apply the batch in one transaction (`store.apply_batch`: its id, then its counts), then set
`usage_ack_key` for the gateway, XACK and XDEL. The order is what makes it exact: a crash before
the commit leaves the batch unacknowledged and the gateway resends it; a crash after it makes the
resent copy a duplicate, acknowledged again and not counted. When Redis restarts empty the group
is gone (NOGROUP): it is created again and the gateway's resends fill the stream. An entry that
is not a batch is logged, counted and dropped: it came from no gateway of ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import prometheus_client
import pydantic
import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import ResponseError

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import cache, db
from meridian.core.runtime import logging as meridian_logging
from meridian.services.billing import store
from meridian.services.billing.settings import Settings
from meridian.services.kit import contracts

log = meridian_logging.get_logger("meridian.services.billing.usage")


@dataclass(frozen=True)
class Meters:
    batches: prometheus_client.Counter
    units: prometheus_client.Counter
    last_applied: prometheus_client.Gauge


def _meters(registry: prometheus_client.CollectorRegistry) -> Meters:
    meters = Meters(
        batches=prometheus_client.Counter(
            "billing_usage_batches",
            "Usage batches read from the stream, by outcome: applied, duplicate (applied "
            "before, acknowledged again) or malformed",
            ("outcome",),
            registry=registry,
        ),
        units=prometheus_client.Counter(
            "billing_usage_units",
            "Billable units committed to meridian_billing, by product",
            ("product",),
            registry=registry,
        ),
        last_applied=prometheus_client.Gauge(
            "billing_usage_last_applied_timestamp_seconds",
            "When the last usage batch was committed (unix seconds)",
            registry=registry,
        ),
    )
    for outcome in ("applied", "duplicate", "malformed"):
        meters.batches.labels(outcome=outcome)
    for product in contracts.PRODUCTS:
        meters.units.labels(product=product)
    return meters


class Flusher:
    def __init__(
        self, redis: aioredis.Redis, pool: db.Pool, settings: Settings, meters: Meters
    ) -> None:
        self.redis = redis
        self.pool = pool
        self.settings = settings
        self.meters = meters
        self.stopping = asyncio.Event()

    async def ensure_group(self) -> None:
        with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists
            await self.redis.xgroup_create(
                self.settings.usage_stream, self.settings.usage_group, id="0", mkstream=True
            )

    async def _read(self, start: str) -> list[tuple[bytes, dict[bytes, bytes]]]:
        settings = self.settings
        try:
            replies: Any = await self.redis.xreadgroup(
                settings.usage_group,
                settings.usage_consumer,
                {settings.usage_stream: start},
                count=settings.usage_read_count,
                block=None if start == "0" else int(settings.usage_block_s * 1000),
            )
        except ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            log.warning("The usage stream's group was gone (Redis restarted); creating it")
            await self.ensure_group()
            return []
        return [entry for _stream, entries in replies or [] for entry in entries]

    async def handle(self, entry_id: bytes, fields: dict[bytes, bytes]) -> None:
        try:
            batch = contracts.UsageBatch.model_validate_json(fields.get(b"batch", b""))
        except pydantic.ValidationError as error:
            self.meters.batches.labels(outcome="malformed").inc()
            log.error("Dropped a usage stream entry that is not a batch", entry=entry_id.decode(),
                      error=str(error)[:300])  # fmt: skip
        else:
            async with store.transaction(self.pool, self.settings.db_role) as connection:
                applied = await store.apply_batch(connection, batch)
            await self.redis.set(
                contracts.usage_ack_key(batch.batch_id), "1", ex=self.settings.usage_ack_ttl_s
            )
            self.meters.batches.labels(outcome="applied" if applied else "duplicate").inc()
            if applied:
                for count in batch.counts:
                    self.meters.units.labels(product=count.product).inc(count.quantity)
                self.meters.last_applied.set(time.time())
        await self.redis.xack(self.settings.usage_stream, self.settings.usage_group, entry_id)
        await self.redis.xdel(self.settings.usage_stream, entry_id)

    async def consume_once(self, start: str = ">") -> int:
        entries = await self._read(start)
        for entry_id, fields in entries:
            await self.handle(entry_id, fields)
        return len(entries)

    async def run(self) -> None:
        pending_first = True  # what this consumer took before a restart and did not ack
        while not self.stopping.is_set():
            try:
                if pending_first:
                    await self.ensure_group()
                    await self.consume_once("0")
                    pending_first = False
                await self.consume_once()
            except (*cache.REDIS_FAILURES, OSError) as error:
                log.warning("Reading the usage stream failed; retrying", error=str(error))
                pending_first = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), self.settings.usage_block_s)
            except Exception:
                log.exception("Applying usage failed; retrying (the batch stays unacknowledged)")
                pending_first = True
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), self.settings.usage_block_s)


FLUSHER = web.AppKey("usage_flusher", Flusher)


def context(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry after the pool's and Redis's: reads the stream while the app runs."""

    async def flushing(app: web.Application) -> AsyncIterator[None]:
        flusher = Flusher(
            app[cache.CLIENT],
            app[db.POOL],
            settings,
            _meters(app[runtime_app.METRICS].registry),
        )
        app[FLUSHER] = flusher
        task = asyncio.create_task(flusher.run(), name="usage-flusher")
        try:
            yield
        finally:
            flusher.stopping.set()
            await task

    return flushing
