"""What billing's HTTP API reads and answers (pydantic; the OpenAPI schemas come from here)."""

from __future__ import annotations

import datetime

from pydantic import BaseModel, ConfigDict, Field

from meridian.services.billing import periods


class Usage(BaseModel):
    """Metered units of one period, by product."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    api_calls: int
    orders_placed: int
    searches: int


class UsageReport(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    period: str = Field(description="YYYY-MM (calendar month, UTC)")
    period_start: datetime.date
    period_end: datetime.date = Field(description="Exclusive: the next period's first day")
    usage: Usage
    updated_at: datetime.datetime | None = Field(
        description="When a flush last added to this period (null: nothing metered yet)"
    )


class UsageQuery(BaseModel):
    """Query string of `GET /v1/billing/usage` (unknown parameters are ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    period: str | None = Field(default=None, pattern=periods.PATTERN)


class InvoiceRequest(BaseModel):
    """`POST /v1/billing/invoices`: the caller's tenant's invoice of a period, now."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    period: str | None = Field(
        default=None, pattern=periods.PATTERN, description="YYYY-MM; default: the current period"
    )


class InvoiceLine(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    product: str
    quantity: int
    unit_amount_decimal: str = Field(description="Cents per unit, as Stripe takes it")
    amount_cents: int
    stripe_invoice_item_id: str | None


class Reconciliation(BaseModel):
    """The invoice's lines against the metered totals now, product by product."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    matches: bool
    metered: Usage


class Invoice(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    period: str
    status: str = Field(description="queued, retrying (Stripe unavailable), reported, failed")
    customer_id: str | None
    stripe_invoice_id: str | None
    attempts: int
    next_attempt_at: datetime.datetime
    last_error: str | None
    created_at: datetime.datetime
    reported_at: datetime.datetime | None
    amount_cents: int
    lines: list[InvoiceLine]
    reconciliation: Reconciliation | None = None


class InvoiceList(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    items: list[Invoice]


class InvoiceQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    limit: int = Field(default=24, ge=1, le=200)


class Account(BaseModel):
    """The tenant's payment state, as Stripe's events left it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: str = Field(description="active, past_due, suspended or canceled")
    customer_id: str | None
    past_due_since: datetime.datetime | None
    suspended_at: datetime.datetime | None
    last_event_id: str | None
    last_event_type: str | None
    refunded_cents: int
    updated_at: datetime.datetime | None
