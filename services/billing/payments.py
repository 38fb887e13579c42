"""Payment state from Stripe's events, and suspension after the grace period.

`stripe.event` messages (relayed once each by the webhook handler, deduped here per message id
in the same transaction as the effect) move the tenant's account: `invoice.payment_failed` makes
it past due (the grace period runs from the first failure), `invoice.paid` active again,
`customer.subscription.updated` follows the subscription's status, `.deleted` cancels,
`charge.refunded` adds to the refunded total. The tenant is the registry's owner of the event's
customer; an event for a customer no tenant has is acknowledged and logged (nothing to bill).

The suspender (every `suspension_interval_s`) sets `spec.suspended: true` on the Tenant of each
account past due for longer than `payment_grace_s` (the Tenant operator then disables its API
keys and marks it), and gives back `false` once such a tenant has paid; it only ever unsuspends
what it suspended. It writes through `meridian.core.kube` with `RBAC_RULES`, nothing more.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from lightkube import AsyncClient
from lightkube.types import PatchType

from meridian.core import kube
from meridian.core.runtime import db
from meridian.core.runtime import logging as meridian_logging
from meridian.services.billing import registry, store
from meridian.services.billing.settings import Settings
from meridian.services.kit import contracts
from meridian.services.kit.events import consumer, messaging
from meridian.services.kit.storage import idempotency

log = meridian_logging.get_logger("meridian.services.billing.payments")

CONSUMER = "billing.stripe"
RBAC_RULES: list[dict[str, list[str]]] = [
    {"apiGroups": ["meridian.io"], "resources": ["tenants"], "verbs": ["get", "patch"]}
]
"""What billing's ServiceAccount needs in the cluster: read and patch Tenants (spec.suspended)."""

SUBSCRIPTION_STATUS = {"active": "active", "trialing": "active", "past_due": "past_due",
                       "unpaid": "past_due", "canceled": "canceled"}  # fmt: skip


def effect(event: contracts.StripeEvent) -> tuple[str | None, int]:
    """(new account status or None to keep it, cents refunded) of one event."""
    obj: dict[str, Any] = event.object
    match event.stripe_type:
        case "invoice.payment_failed":
            return "past_due", 0
        case "invoice.paid":
            return "active", 0
        case "customer.subscription.updated":
            return SUBSCRIPTION_STATUS.get(str(obj.get("status"))), 0
        case "customer.subscription.deleted":
            return "canceled", 0
        case "charge.refunded":
            refunded = obj.get("amount_refunded")
            return None, refunded if isinstance(refunded, int) else 0
    return None, 0


def stripe_topology(settings: Settings) -> messaging.Topology:
    return messaging.Topology(
        exchange=settings.stripe_exchange,
        queue=settings.stripe_queue,
        routing_keys=contracts.STRIPE_EVENT_TYPES,
        retry_delay_s=settings.retry_delay_s,
    )


def stripe_handler(app: web.Application, settings: Settings) -> consumer.Handler:
    async def handle(delivery: consumer.Delivery) -> None:
        event = contracts.StripeEvent.model_validate_json(delivery.body)
        if event.customer is None:
            log.warning("Stripe event without a customer", event_id=event.stripe_event_id)
            return
        owner = await registry.tenant_of(app[registry.POOL], event.customer)
        if owner is None:
            log.warning("Stripe event for a customer no tenant has", event_id=event.stripe_event_id,
                        customer=event.customer)  # fmt: skip
            return
        tenant_id, name = owner
        status, refunded = effect(event)
        async with db.tenant_connection(app[db.POOL], tenant_id, role=settings.db_role) as conn:
            if not await idempotency.first_time(conn, CONSUMER, delivery.message_id):
                return
            account = await store.record_payment_event(
                conn,
                tenant_id=tenant_id,
                customer_id=event.customer,
                event_id=event.stripe_event_id,
                event_type=event.stripe_type,
                status=status,
                at=event.occurred_at,
                refunded_cents=refunded,
            )
        log.info("Payment state changed", tenant=name, event_id=event.stripe_event_id,
                 type=event.stripe_type, status=account["status"])  # fmt: skip
        app[SUSPENDER].wake.set()

    return handle


class Suspender:
    def __init__(
        self, pool: db.Pool, registry_pool: db.Pool, client: AsyncClient, settings: Settings
    ) -> None:
        self.pool = pool
        self.registry_pool = registry_pool
        self.client = client
        self.settings = settings
        self.wake = asyncio.Event()
        self.stopping = asyncio.Event()

    async def _set(self, tenant_id: uuid.UUID, suspended: bool) -> str | None:
        name = await registry.name_of(self.registry_pool, tenant_id)
        if name is not None:
            await self.client.patch(kube.RESOURCES["Tenant"], name, {"spec": {"suspended": suspended}},
                                    patch_type=PatchType.MERGE)  # fmt: skip
        return name

    async def once(self) -> None:
        role, limit = self.settings.db_role, 100
        async with store.transaction(self.pool, role) as connection:
            overdue = await store.overdue(connection, self.settings.payment_grace_s, limit)
            resume = await store.to_resume(connection, limit)
        for tenant_id in overdue:
            async with db.tenant_connection(self.pool, tenant_id, role=role) as connection:
                row = await connection.fetchrow("SELECT status FROM accounts FOR UPDATE")
                if row is None or row["status"] != "past_due":
                    continue
                name = await self._set(tenant_id, True)  # the commit below waits for the patch
                await store.suspended(connection)
            log.warning("Suspended tenant past its payment grace period", tenant=name,
                        grace_s=self.settings.payment_grace_s)  # fmt: skip
        for tenant_id in resume:
            async with db.tenant_connection(self.pool, tenant_id, role=role) as connection:
                name = await self._set(tenant_id, False)
                await store.resumed(connection)
            log.info("Resumed tenant after payment", tenant=name)

    async def run(self) -> None:
        while not self.stopping.is_set():
            self.wake.clear()
            try:
                await self.once()
            except Exception:
                log.exception("Suspending or resuming tenants failed; retrying next pass")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), self.settings.suspension_interval_s)


SUSPENDER = web.AppKey("suspender", Suspender)


def context(settings: Settings) -> Callable[[web.Application], AsyncIterator[None]]:
    """A `cleanup_ctx` entry after the pools': the Kubernetes client and the suspender's loop."""

    async def suspending(app: web.Application) -> AsyncIterator[None]:
        client = kube.client(settings.kubeconfig, field_manager="meridian-billing")
        suspender = Suspender(app[db.POOL], app[registry.POOL], client, settings)
        app[SUSPENDER] = suspender
        task = asyncio.create_task(suspender.run(), name="suspender")
        try:
            yield
        finally:
            suspender.stopping.set()
            suspender.wake.set()
            await task
            await client.close()

    return suspending
