"""Fulfillment's app: settings it refuses, and the names of its queues."""

from __future__ import annotations

import pytest

from meridian.services.fulfillment import app, consumers
from meridian.services.fulfillment.settings import Settings as FulfillmentSettings


def test_missing_settings_are_named() -> None:
    with pytest.raises(ValueError, match="_CARRIER_URL and _CARRIER_API_KEY"):
        app.create_app(FulfillmentSettings())


def test_production_messaging_names() -> None:
    topology = consumers.orders_topology(FulfillmentSettings())
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
