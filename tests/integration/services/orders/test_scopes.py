"""Every documented operation of orders and inventory requires its scope: without it, 403 and
nothing done. The OpenAPI description names the scope (`x-meridian-scope`), and the same
requests succeed past the check once the scope is granted."""

from __future__ import annotations

import uuid

import pytest

from meridian.services.inventory import openapi as inventory_openapi
from meridian.services.kit import contracts, openapi
from meridian.services.orders import openapi as orders_openapi
from tests.integration.services import pipeline
from tests.integration.services.orders.conftest import Pipeline

OPERATIONS = [
    *(("orders", op) for op in orders_openapi.OPERATIONS),
    *(("inventory", op) for op in inventory_openapi.OPERATIONS),
]


def _url(services: Pipeline, service: str, op: openapi.Operation) -> str:
    path = op.path.format(id=uuid.uuid4(), order_id=uuid.uuid4(), sku=f"SKU-{uuid.uuid4().hex[:6]}")
    return getattr(services, service) + path


@pytest.mark.parametrize(("service", "op"), OPERATIONS, ids=lambda v: getattr(v, "operation_id", v))
async def test_an_operation_without_its_scope_is_403_naming_it(
    services: Pipeline, service: str, op: openapi.Operation
) -> None:
    assert op.scope is not None, f"{op.operation_id} documents no scope"
    others = tuple(scope for scope in pipeline.ALL_SCOPES if scope != op.scope)
    body = {"lines": [{"sku": "SKU-1", "quantity": 1}], "warehouse": "w1", "on_hand": 1}
    async with services.http.request(
        op.method,
        _url(services, service, op),
        json=body,
        headers=pipeline.caller(services.tenant, others),
    ) as response:
        assert response.status == 403, await response.text()
        assert op.scope in (await response.json(content_type=None))["detail"]
    async with services.http.request(
        op.method, _url(services, service, op), json=body, headers=pipeline.caller(services.tenant)
    ) as response:
        assert response.status != 403


async def test_nothing_is_written_without_the_scope(services: Pipeline) -> None:
    sku = f"SKU-{uuid.uuid4().hex[:6]}"
    await services.stock(sku, 5)
    readonly = pipeline.caller(services.tenant, (contracts.ORDERS_READ, contracts.INVENTORY_READ))
    async with services.http.post(
        f"{services.orders}/v1/orders",
        json={"lines": [{"sku": sku, "quantity": 1}]},
        headers=readonly,
    ) as response:
        assert response.status == 403
    async with services.http.get(f"{services.orders}/v1/orders", headers=readonly) as response:
        assert (await response.json())["items"] == []
    assert (await services.available(sku))["available"] == 5
