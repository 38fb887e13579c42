"""Fulfillment's OpenAPI 3.1 description (read-only shipments), served at GET /openapi.json."""

from __future__ import annotations

from typing import Any

from meridian.services import fulfillment
from meridian.services.fulfillment import models
from meridian.services.kit import contracts, openapi

OPERATIONS = (
    openapi.Operation(
        "GET",
        "/v1/fulfillment/shipments",
        "listShipments",
        "The tenant's shipments, newest first, optionally of one order",
        scope=contracts.ORDERS_READ,
        parameters=[
            {"name": "order_id", "in": "query", "schema": {"type": "string", "format": "uuid"}},
            {
                "name": "limit",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 200},
            },
        ],
        responses={
            200: ("The shipments", models.ShipmentList),
            422: ("A query parameter is invalid", None),
        },
    ),
    openapi.Operation(
        "GET",
        "/v1/fulfillment/shipments/{id}",
        "getShipment",
        "One shipment of the tenant",
        scope=contracts.ORDERS_READ,
        parameters=[{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
        responses={
            200: ("The shipment", models.Shipment),
            404: ("No such shipment (for this tenant)", None),
        },
    ),
)


def description() -> dict[str, Any]:
    return openapi.document(
        title="Meridian fulfillment",
        version="1.0.0",
        operations=OPERATIONS,
        description=(fulfillment.__doc__ or "").strip(),
    )
