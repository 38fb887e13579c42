"""The OpenAPI description covers every route the app serves and is valid 3.1 in shape."""

from __future__ import annotations

import re

import pytest

from meridian.services.fulfillment import app, openapi
from meridian.services.fulfillment.settings import FulfillmentSettings


def test_every_route_is_described() -> None:
    settings = FulfillmentSettings(
        pg_dsn="postgresql://x@127.0.0.1/meridian_fulfillment",
        amqp_url="amqp://x@127.0.0.1/",
        carrier_url="http://127.0.0.1:1",
        carrier_api_key="k",
    )
    served = {
        (route.method.lower(), re.sub(r"\{(\w+)[^}]*\}", r"{\1}", route.resource.canonical))
        for route in app.create_app(settings).router.routes()
        if route.method != "HEAD" and route.resource is not None
    }
    document = openapi.document()
    described = {(m, path) for path, item in document["paths"].items() for m in item}
    assert served == described
    assert document["openapi"] == "3.1.0"
    schemas = document["components"]["schemas"]
    assert {"Shipment", "ShipmentList", "Allocation", "Problem"} <= set(schemas)


def test_missing_settings_are_named() -> None:
    with pytest.raises(ValueError, match="_CARRIER_URL and _CARRIER_API_KEY"):
        app.create_app(FulfillmentSettings())


def test_production_messaging_names() -> None:
    topology = app.orders_topology(FulfillmentSettings())
    assert (topology.exchange, topology.queue, topology.routing_keys) == (
        "orders.events",
        "fulfillment.orders",
        ("order.confirmed",),
    )
    assert (topology.retry_queue, topology.dlq, topology.max_retries) == (
        "fulfillment.orders.retry",
        "fulfillment.orders.dlq",
        3,
    )
    assert FulfillmentSettings().events_exchange == "fulfillment.events"
