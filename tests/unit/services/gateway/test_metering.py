"""What a forwarded request counts as, and what a flush seals."""

from __future__ import annotations

import uuid

import pytest

from meridian.services.gateway import metering


@pytest.mark.parametrize(
    ("method", "path", "status", "products"),
    [
        ("GET", "/v1/orders/1", 200, ["api_calls"]),
        ("POST", "/v1/orders", 201, ["api_calls", "orders_placed"]),
        ("POST", "/v1/orders/", 201, ["api_calls", "orders_placed"]),
        ("POST", "/v1/orders", 422, ["api_calls"]),
        ("POST", "/v1/orders/1/cancel", 200, ["api_calls"]),
        ("GET", "/v1/search", 200, ["api_calls", "searches"]),
        ("GET", "/v1/search/products", 200, ["api_calls", "searches"]),
        ("GET", "/v1/searching", 200, ["api_calls"]),
        ("GET", "/v1/search/products", 503, ["api_calls"]),
    ],
)
def test_a_request_counts_as_its_products(
    method: str, path: str, status: int, products: list[str]
) -> None:
    assert metering.products(method, path, status) == products


def test_sealing_moves_the_counts_into_one_pending_batch_and_starts_afresh() -> None:
    import prometheus_client

    from meridian.services.gateway.settings import Settings

    meter = metering.Meter(None, Settings(), prometheus_client.CollectorRegistry())  # type: ignore[arg-type]
    tenant = uuid.uuid4()
    meter.count(tenant, "POST", "/v1/orders", 201)
    meter.count(tenant, "GET", "/v1/orders/1", 200)
    meter.seal()
    meter.seal()  # nothing new: no empty batch
    (pending,) = meter.pending.values()
    assert {(c.product, c.quantity) for c in pending.batch.counts} == {
        ("api_calls", 2),
        ("orders_placed", 1),
    }
    assert not meter.counts
