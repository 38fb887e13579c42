"""Stored events to billing, exactly once: the outbox row and the processed marker commit together.

A pass claims unprocessed events (`FOR UPDATE SKIP LOCKED`, so replicas share the work), writes a
`stripe.event` message for each type billing acts on (`contracts.STRIPE_EVENT_TYPES`; others are
marked ignored), and marks each processed, all in one transaction. A crash before the commit leaves
the events unprocessed for the next pass (after a restart, the first); a crash after it leaves
them done. The message id is uuid5 of the Stripe event id, and the outbox's `message_id` is
unique, so even a bug could not relay one event twice. Passes run every `process_interval_s` and
at once when a receipt wakes the processor.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import uuid
from collections.abc import AsyncIterator, Callable

from aiohttp import web

from meridian.core.runtime import db
from meridian.core.runtime import logging as meridian_logging
from meridian.services.kit import contracts
from meridian.services.kit.events import outbox
from meridian.services.stripe_webhooks import meters as meters_
from meridian.services.stripe_webhooks import store
from meridian.services.stripe_webhooks.settings import Settings

log = meridian_logging.get_logger("meridian.services.stripe_webhooks.processing")

MESSAGE_NAMESPACE = uuid.UUID("0b5f5c8e-4d0a-4c39-9a55-5f0b1e0c7a11")
"""uuid5 namespace of `StripeEvent.message_id`: one Stripe event id, one message id, forever."""


def message_id(stripe_event_id: str) -> uuid.UUID:
    return uuid.uuid5(MESSAGE_NAMESPACE, stripe_event_id)


def message(event: store.Stored) -> contracts.StripeEvent:
    body = event.payload
    data = body.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    obj = obj if isinstance(obj, dict) else {}
    customer = obj.get("customer")
    if obj.get("object") == "customer":
        customer = obj.get("id")
    created = body.get("created")
    return contracts.StripeEvent(
        type="stripe.event",
        message_id=message_id(event.id),
        occurred_at=datetime.datetime.fromtimestamp(
            created if isinstance(created, int) else 0, datetime.UTC
        ),
        stripe_event_id=event.id,
        stripe_type=event.type,
        customer=customer if isinstance(customer, str) else None,
        object_id=obj["id"] if isinstance(obj.get("id"), str) else None,
        object=obj,
    )


class Processor:
    def __init__(self, pool: db.Pool, settings: Settings, meters: meters_.Meters) -> None:
        self.pool = pool
        self.settings = settings
        self.meters = meters
        self.wake = asyncio.Event()
        self.stopping = asyncio.Event()

    async def process_once(self) -> int:
        """One batch in one transaction; returns how many events it processed."""
        async with store.transaction(self.pool, self.settings.db_role) as connection:
            events = await store.claim_unprocessed(connection, self.settings.process_batch)
            outcomes: list[str] = []
            for event in events:
                if event.type in contracts.STRIPE_EVENT_TYPES:
                    relayed = message(event)
                    await outbox.write(
                        connection,
                        exchange=self.settings.events_exchange,
                        routing_key=event.type,
                        payload=relayed.model_dump(mode="json"),
                        message_id=relayed.message_id,
                    )
                    outcomes.append("relayed")
                else:
                    outcomes.append("ignored")
                await store.mark_processed(connection, event.id, outcomes[-1])
        for event, outcome in zip(events, outcomes, strict=True):
            self.meters.processed.labels(outcome=outcome).inc()
            log.info("Processed Stripe event", event_id=event.id, type=event.type, outcome=outcome)
        return len(events)

    async def drain(self) -> None:
        """Batches until none is full, then the backlog gauges."""
        while await self.process_once() >= self.settings.process_batch:
            pass
        async with store.transaction(self.pool, self.settings.db_role) as connection:
            count, age = await store.backlog(connection)
        self.meters.unprocessed.set(count)
        self.meters.oldest_unprocessed.set(age)

    async def run(self) -> None:
        while not self.stopping.is_set():
            self.wake.clear()
            try:
                await self.drain()
            except Exception:
                log.exception("Processing stored Stripe events failed; retrying next pass")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.settings.process_interval_s)

    def stop(self) -> None:
        """The pass in progress finishes (never cut mid-transaction); no new one starts."""
        self.stopping.set()
        self.wake.set()


PROCESSOR = web.AppKey("stripe_event_processor", Processor)


def context(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry after the pool's: the processor runs as long as the app does; its
    first pass, before the app serves, processes what a previous process stored and did not."""

    async def processing(app: web.Application) -> AsyncIterator[None]:
        processor = Processor(app[db.POOL], settings, app[meters_.METERS])
        app[PROCESSOR] = processor
        try:  # what a previous process stored and did not process, before this one is ready
            await processor.drain()
        except Exception:
            log.exception("Processing stored Stripe events at start failed; retrying in the loop")
        task = asyncio.create_task(processor.run(), name="stripe-event-processor")
        try:
            yield
        finally:
            processor.stop()
            await task

    return processing
