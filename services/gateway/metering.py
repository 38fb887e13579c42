"""Usage metering: what each tenant's requests cost, counted here and handed to billing without
loss or double counting, even when Redis dies.

Counting is in process (a dict increment per request, no round trip on the hot path). Every
`usage_flush_interval_s` the counts are sealed into a `UsageBatch` with a fresh `batch_id` and
added to the Redis stream `usage_stream` (`contracts.USAGE_STREAM`); billing commits a batch id once to its
database (the id is the flush's idempotency key) and then sets `usage_ack_key(batch_id)`. This
replica keeps every batch until it sees that acknowledgement and sends it again every
`usage_resend_after_s` meanwhile, so a Redis crash (cache-only: the stream and the acks vanish),
an eviction or a billing outage only delays usage: a resent batch billing already has is
acknowledged again and not counted twice. What is lost is what this process holds when it is
itself killed (at most one interval plus unacknowledged batches); on SIGTERM it flushes and
waits up to `usage_drain_s` for the acknowledgements.

Billable: a request with a verified tenant that the upstream answered is one `api_calls`; a
2xx to `POST /v1/orders` is also one `orders_placed`; a 2xx under `/v1/search` one `searches`.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import prometheus_client
import redis.asyncio as aioredis
from aiohttp import web

from meridian.core.runtime import app as runtime_app
from meridian.core.runtime import cache
from meridian.core.runtime import logging as meridian_logging
from meridian.services.gateway.settings import Settings
from meridian.services.kit import contracts

log = meridian_logging.get_logger("meridian.services.gateway.metering")

ORDERS_PATH = "/v1/orders"
SEARCH_PREFIX = "/v1/search"


def products(method: str, path: str, status: int) -> list[contracts.Product]:
    """What one answered request counts as."""
    counted: list[contracts.Product] = ["api_calls"]
    if 200 <= status < 300:
        if method == "POST" and path.rstrip("/") == ORDERS_PATH:
            counted.append("orders_placed")
        elif path == SEARCH_PREFIX or path.startswith(SEARCH_PREFIX + "/"):
            counted.append("searches")
    return counted


@dataclass
class Pending:
    batch: contracts.UsageBatch
    sealed: float  # monotonic
    sent: float | None = None


class Meter:
    def __init__(
        self,
        redis: aioredis.Redis,
        settings: Settings,
        registry: prometheus_client.CollectorRegistry,
    ) -> None:
        self.redis = redis
        self.settings = settings
        self.source = f"{settings.name}-{uuid.uuid4().hex[:8]}"
        self.counts: collections.Counter[tuple[uuid.UUID, contracts.Product]] = (
            collections.Counter()
        )
        self.pending: dict[uuid.UUID, Pending] = {}
        self.counted = prometheus_client.Counter(
            "meridian_gateway_usage_counted",
            "Billable requests counted, by product (the gateway's own count billing must match)",
            ("product",),
            registry=registry,
        )
        self.pending_batches = prometheus_client.Gauge(
            "meridian_gateway_usage_pending_batches",
            "Usage batches sealed and not yet acknowledged by billing",
            registry=registry,
        )
        self.oldest_pending = prometheus_client.Gauge(
            "meridian_gateway_usage_oldest_pending_seconds",
            "Age of the oldest usage batch billing has not acknowledged (0 when none): the "
            "usage flush lag",
            registry=registry,
        )
        for product in contracts.PRODUCTS:
            self.counted.labels(product=product)

    def count(self, tenant_id: uuid.UUID, method: str, path: str, status: int) -> None:
        for product in products(method, path, status):
            self.counts[(tenant_id, product)] += 1
            self.counted.labels(product=product).inc()

    def seal(self) -> None:
        """The counts so far become a batch of their own (nothing is awaited: no request is
        counted into a batch already sealed)."""
        if not self.counts:
            return
        counts, self.counts = self.counts, collections.Counter()
        batch = contracts.UsageBatch(
            batch_id=uuid.uuid4(),
            source=self.source,
            sealed_at=datetime.datetime.now(datetime.UTC),
            counts=[
                contracts.UsageCount(tenant_id=tenant, product=product, quantity=quantity)
                for (tenant, product), quantity in sorted(counts.items(), key=str)
            ],
        )
        self.pending[batch.batch_id] = Pending(batch, time.monotonic())

    async def flush_once(self) -> None:
        """Seal, forget what billing acknowledged, (re)send the rest."""
        self.seal()
        try:
            if self.pending:
                ids = list(self.pending)
                acks = await self.redis.mget([contracts.usage_ack_key(i) for i in ids])
                for batch_id, ack in zip(ids, acks, strict=True):
                    if ack is not None:
                        del self.pending[batch_id]
                now = time.monotonic()
                for pending in self.pending.values():
                    if (
                        pending.sent is None
                        or now - pending.sent >= self.settings.usage_resend_after_s
                    ):
                        await self.redis.xadd(
                            self.settings.usage_stream,
                            {"batch": pending.batch.model_dump_json()},
                            maxlen=self.settings.usage_stream_maxlen,
                            approximate=True,
                        )
                        pending.sent = now
        finally:
            now = time.monotonic()
            self.pending_batches.set(len(self.pending))
            oldest = min((p.sealed for p in self.pending.values()), default=now)
            self.oldest_pending.set(now - oldest)


METER = web.AppKey("usage_meter", Meter)


def context(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry after Redis's: flushes every interval; on shutdown, a last flush and
    up to `usage_drain_s` for billing to acknowledge what is still pending."""

    async def metering(app: web.Application) -> AsyncIterator[None]:
        meter = Meter(app[cache.CLIENT], settings, app[runtime_app.METRICS].registry)
        app[METER] = meter
        stopping = asyncio.Event()

        async def loop() -> None:
            while not stopping.is_set():
                try:
                    await meter.flush_once()
                except cache.REDIS_FAILURES as error:
                    log.warning(
                        "Flushing usage failed; the batches are kept and sent again",
                        error=str(error),
                        pending=len(meter.pending),
                    )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), settings.usage_flush_interval_s)

        task = asyncio.create_task(loop(), name="usage-metering")
        try:
            yield
        finally:
            stopping.set()
            await task
            deadline = time.monotonic() + settings.usage_drain_s
            while time.monotonic() < deadline:
                with contextlib.suppress(*cache.REDIS_FAILURES):
                    await meter.flush_once()
                if not meter.pending:
                    break
                await asyncio.sleep(min(0.2, settings.usage_flush_interval_s))
            if meter.pending:
                log.error(
                    "Stopped with usage billing has not acknowledged",
                    batches=len(meter.pending),
                    requests=sum(
                        c.quantity for p in meter.pending.values() for c in p.batch.counts
                    ),
                )

    return metering
