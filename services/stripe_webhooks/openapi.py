"""The webhook handler's OpenAPI 3.1 description, served at GET /openapi.json."""

from __future__ import annotations

from typing import Any

from meridian.services import stripe_webhooks
from meridian.services.kit import openapi
from meridian.services.stripe_webhooks import models, routes, signature

OPERATIONS = (
    openapi.Operation(
        "POST",
        routes.PATH,
        "receiveStripeEvent",
        "One Stripe event, signed; stored before the 200, processed once",
        request=models.StripeEventBody,
        identity=False,
        parameters=[
            {
                "name": signature.HEADER,
                "in": "header",
                "required": True,
                "description": "t=<unix seconds>,v1=<HMAC-SHA256 hex of '<t>.<body>'>",
                "schema": {"type": "string"},
            }
        ],
        responses={
            200: ("Stored (or already stored: `duplicate`)", models.Receipt),
            400: ("Refused: signature, timestamp or body; `reason` says which", None),
            503: ("The event could not be stored; Stripe retries", None),
        },
    ),
)


def description() -> dict[str, Any]:
    return openapi.document(
        title="Meridian Stripe webhooks",
        version="1.0.0",
        operations=OPERATIONS,
        description=(stripe_webhooks.__doc__ or "").strip(),
    )
