"""What fulfillment's HTTP API reads and answers (pydantic; the OpenAPI schemas come from here)."""

from __future__ import annotations

import datetime
import uuid

from pydantic import BaseModel, ConfigDict, Field

from meridian.services.kit import contracts


class Shipment(BaseModel):
    """One parcel bought from the carrier for the lines of one order from one warehouse."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: uuid.UUID
    order_id: uuid.UUID
    warehouse: str
    carrier: str
    carrier_shipment_id: str
    tracking_number: str
    service: str
    rate_amount: str = Field(description="Decimal amount, as the carrier quoted it")
    rate_currency: str
    label_key: str = Field(description="Object key of the label PDF in `meridian-fulfillment`")
    allocations: list[contracts.Allocation]
    created_at: datetime.datetime


class ShipmentList(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    items: list[Shipment]


class ShipmentQuery(BaseModel):
    """Query string of `GET /v1/fulfillment/shipments` (unknown parameters are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    order_id: uuid.UUID | None = None
    limit: int = Field(default=50, ge=1, le=200)
