"""Orders' request and response bodies; lines and allocations are the shared contracts'."""

from __future__ import annotations

import datetime
import uuid

from pydantic import BaseModel, ConfigDict, Field

from meridian.services.kit import contracts


class NewOrder(BaseModel):
    """POST /v1/orders."""

    model_config = ConfigDict(extra="forbid")

    lines: list[contracts.Line] = Field(min_length=1, max_length=100)
    ship_to: contracts.Address | None = Field(
        default=None, description="Where it goes; omitted: fulfillment's default address"
    )
    reference: str | None = Field(
        default=None, max_length=128, description="The customer's own reference"
    )


class Order(BaseModel):
    id: uuid.UUID
    state: contracts.OrderState
    lines: list[contracts.Line]
    allocations: list[contracts.Allocation]
    ship_to: contracts.Address | None
    reference: str | None
    reason: str | None = Field(
        description="Why it was canceled: insufficient-stock, unknown-sku, canceled-by-customer"
    )
    reason_detail: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime


class OrderList(BaseModel):
    items: list[Order]
    next_before: datetime.datetime | None = Field(
        description="Pass as `before` for the next (older) page; null on the last page"
    )
