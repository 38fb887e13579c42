"""Inventory's OpenAPI 3.1 description, served at GET /openapi.json."""

from __future__ import annotations

from typing import Any

from meridian.services.inventory import models
from meridian.services.kit import contracts, openapi

SKU = {
    "name": "sku",
    "in": "path",
    "required": True,
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": 64,
        "pattern": contracts.CODE_PATTERN,
    },
}
ORDER_ID = {
    "name": "order_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
PAGE = [
    {
        "name": "after",
        "in": "query",
        "schema": {"type": "string", "maxLength": 64, "pattern": f"{contracts.CODE_PATTERN}|^$"},
    },
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 500}},
]

OPERATIONS = (
    openapi.Operation(
        "PUT",
        "/v1/inventory/stock/{sku}",
        "putStock",
        "Set what is on hand of one SKU in one warehouse",
        scope=contracts.INVENTORY_WRITE,
        request=models.StockUpdate,
        parameters=[SKU],
        responses={
            200: ("The SKU's stock after the change", models.Stock),
            409: ("on_hand would fall below what is reserved", None),
        },
    ),
    openapi.Operation(
        "GET",
        "/v1/inventory/stock/{sku}",
        "getStock",
        "One SKU's stock per warehouse and in total (cached)",
        scope=contracts.INVENTORY_READ,
        parameters=[SKU],
        responses={
            200: ("The SKU's stock", models.Stock),
            404: ("No stock recorded for the SKU", None),
            422: ("The SKU is malformed", None),
        },
    ),
    openapi.Operation(
        "GET",
        "/v1/inventory/stock",
        "listStock",
        "Every SKU's stock, by SKU, a page at a time",
        scope=contracts.INVENTORY_READ,
        parameters=PAGE,
        responses={200: ("A page of SKUs", models.StockList), 422: ("A bad parameter", None)},
    ),
    openapi.Operation(
        "POST",
        "/v1/inventory/reservations",
        "createReservation",
        "Reserve every line of an order, or none (idempotent per order_id)",
        scope=contracts.ORDERS_WRITE,
        request=contracts.ReservationRequest,
        responses={
            200: ("The order's existing reservation", contracts.Reservation),
            201: ("Reserved", contracts.Reservation),
            409: ("Insufficient stock (names the SKU), or the reservation was released", None),
        },
    ),
    openapi.Operation(
        "DELETE",
        "/v1/inventory/reservations/{order_id}",
        "deleteReservation",
        "Release an order's reservation (idempotent)",
        scope=contracts.ORDERS_WRITE,
        parameters=[ORDER_ID],
        responses={
            204: ("Released (or nothing was held)", None),
            409: ("The order has shipped", None),
            422: ("The order id is malformed", None),
        },
    ),
    openapi.Operation(
        "POST",
        "/v1/inventory/products",
        "upsertProducts",
        "Create or change one product, or up to 500 (`products`) in one transaction",
        scope=contracts.INVENTORY_WRITE,
        request=models.ProductUpsert,
        responses={
            200: (
                "Changed or equal (one product), or the batch as stored",
                models.ProductUpsertResult,
            ),
            201: ("Created", models.Product),
            422: ("A field is invalid or a SKU is repeated (named)", None),
        },
    ),
    openapi.Operation(
        "GET",
        "/v1/inventory/products/{sku}",
        "getProduct",
        "One product of the catalogue",
        scope=contracts.INVENTORY_READ,
        parameters=[SKU],
        responses={
            200: ("The product", models.Product),
            404: ("No such product", None),
            422: ("The SKU is malformed", None),
        },
    ),
    openapi.Operation(
        "GET",
        "/v1/inventory/products",
        "listProducts",
        "The catalogue, by SKU, a page at a time",
        scope=contracts.INVENTORY_READ,
        parameters=PAGE,
        responses={
            200: ("A page of products", models.ProductList),
            422: ("A bad parameter", None),
        },
    ),
    openapi.Operation(
        "DELETE",
        "/v1/inventory/products/{sku}",
        "deleteProduct",
        "Remove a product from the catalogue (announced as product.deleted)",
        scope=contracts.INVENTORY_WRITE,
        parameters=[SKU],
        responses={
            204: ("Deleted", None),
            404: ("No such product", None),
            422: ("The SKU is malformed", None),
        },
    ),
)


def description() -> dict[str, Any]:
    return openapi.document(title="Meridian inventory", version="1.0.0", operations=OPERATIONS)
