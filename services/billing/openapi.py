"""Billing's OpenAPI 3.1 description, served at GET /openapi.json."""

from __future__ import annotations

from typing import Any

from meridian.services import billing
from meridian.services.billing import models, periods
from meridian.services.kit import contracts, openapi

OPERATIONS = (
    openapi.Operation(
        "GET",
        "/v1/billing/usage",
        "getUsage",
        "The tenant's metered usage of a period (default: the current one), by product",
        scope=contracts.BILLING_READ,
        parameters=[
            {
                "name": "period",
                "in": "query",
                "schema": {"type": "string", "pattern": periods.PATTERN},
            }
        ],
        responses={
            200: ("The usage", models.UsageReport),
            422: ("A query parameter is invalid", None),
        },
    ),
)


def description() -> dict[str, Any]:
    return openapi.document(
        title="Meridian billing",
        version="1.0.0",
        operations=OPERATIONS,
        description=(billing.__doc__ or "").strip(),
    )
