"""What the webhook endpoint reads and answers (pydantic; the OpenAPI schemas come from here).

Only what the handler relies on is required of an event (`id`, `object`, `type`, `created`,
`data.object`); the rest of Stripe's envelope is kept as sent, since the payload is stored whole.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class EventData(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)

    object: dict[str, Any] = Field(description="The Stripe object the event is about")


class StripeEventBody(BaseModel):
    """A Stripe event as POSTed to a webhook endpoint."""

    model_config = ConfigDict(extra="allow", frozen=True)

    id: str = Field(pattern=r"^evt_[A-Za-z0-9_]+$", max_length=255)
    object: Literal["event"]
    type: str = Field(pattern=r"^[a-z_]+(\.[a-z_]+)+$", max_length=100)
    created: int = Field(ge=0, description="Unix seconds, when Stripe created the event")
    data: EventData


class Receipt(BaseModel):
    """The 200 answer: the event is stored (or was already; `duplicate`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    duplicate: bool
