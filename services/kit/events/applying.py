"""Applying an event to a tenant's data exactly once: the consumers' common shape.

Parse the body into its contract (a body that is not one can never succeed: `Permanent`, straight
to the DLQ), open the tenant's transaction under the service's role, record the message id
(`idempotency.first_time`) and apply the event in that same transaction, so a redelivery changes
nothing and a failed attempt leaves nothing behind for its retry. What must follow the commit
(refreshing a cache, say) is returned by `apply` and run after it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import pydantic
from aiohttp import web

from meridian.core.runtime import db
from meridian.services.kit.events import consumer
from meridian.services.kit.storage import idempotency

AfterCommit = Callable[[], Awaitable[None]]


class TenantEvent(Protocol):
    @property
    def tenant_id(self) -> uuid.UUID: ...

    @property
    def message_id(self) -> uuid.UUID: ...


EventT = TypeVar("EventT", bound=pydantic.BaseModel)


def applied_once(
    app: web.Application,
    *,
    model: type[EventT],
    consumer_name: str,
    role: str | None,
    apply: Callable[[db.Connection, EventT], Awaitable[AfterCommit | None]],
) -> consumer.Handler:
    async def handle(delivery: consumer.Delivery) -> None:
        try:
            event = model.model_validate_json(delivery.body)
        except pydantic.ValidationError as error:
            raise consumer.Permanent(f"Not a {model.__name__}: {error}") from error
        tenant: TenantEvent = event  # type: ignore[assignment]
        message_id = delivery.message_id or str(tenant.message_id)
        async with db.tenant_connection(app[db.POOL], tenant.tenant_id, role=role) as connection:
            if not await idempotency.first_time(connection, consumer_name, message_id):
                return
            after = await apply(connection, event)
        if after is not None:
            await after()

    return handle
