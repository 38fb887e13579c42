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
