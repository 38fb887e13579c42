"""Orders' OpenAPI 3.1 description, served at GET /openapi.json."""

from __future__ import annotations

from typing import Any

from meridian.services.kit import contracts, openapi
from meridian.services.orders import models

ORDER_ID = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "description": "Repeats within 24 h answer with the same order; another body is a 422",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}

OPERATIONS = (
    openapi.Operation(
        "POST",
        "/v1/orders",
        "createOrder",
        "Place an order: its stock is reserved and it is confirmed, or canceled",
        scope=contracts.ORDERS_WRITE,
        request=models.NewOrder,
        parameters=[IDEMPOTENCY_KEY],
        responses={
            201: ("Confirmed (or, on a replay, as it is now)", models.Order),
            409: (
                "Insufficient stock: the order is canceled (in `order`), `detail` says why",
                None,
            ),
            422: ("A field is invalid or a SKU unknown; `errors` names it; nothing was kept", None),
            503: ("Inventory unavailable: the order is kept pending (`order_id`)", None),
        },
    ),
    openapi.Operation(
        "GET",
        "/v1/orders",
        "listOrders",
        "The tenant's orders, newest first, optionally in one state",
        scope=contracts.ORDERS_READ,
        parameters=[
            {
                "name": "state",
                "in": "query",
                "schema": {"enum": ["pending", "confirmed", "fulfilled", "canceled"]},
            },
            {"name": "before", "in": "query", "schema": {"type": "string", "format": "date-time"}},
            {
                "name": "limit",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 500},
            },
        ],
        responses={200: ("A page of orders", models.OrderList), 422: ("A bad parameter", None)},
    ),
    openapi.Operation(
        "GET",
        "/v1/orders/{id}",
        "getOrder",
        "One order",
        scope=contracts.ORDERS_READ,
        parameters=[ORDER_ID],
        responses={
            200: ("The order", models.Order),
            404: ("No such order for this tenant", None),
            422: ("The id is not a UUID", None),
        },
    ),
    openapi.Operation(
        "POST",
        "/v1/orders/{id}/cancel",
        "cancelOrder",
        "Cancel a pending or confirmed order and release its stock",
        scope=contracts.ORDERS_WRITE,
        parameters=[ORDER_ID],
        responses={
            200: ("Canceled", models.Order),
            404: ("No such order for this tenant", None),
            409: ("The order is fulfilled or canceled already", None),
            422: ("The id is not a UUID", None),
        },
    ),
)


def description() -> dict[str, Any]:
    return openapi.document(
        title="Meridian orders", version="1.0.0", operations=OPERATIONS, signs=True
    )
