"""Orders acts only for the caller its token proves, whatever the identity headers say, and
proves itself to inventory in turn (issue 9, item 11)."""

from __future__ import annotations

import uuid

import pytest

from meridian.services.kit import contracts
from tests import issuer
from tests.integration.services import pipeline
from tests.integration.services.orders.conftest import Pipeline

FORGERIES = sorted(issuer.forgeries(uuid.uuid4()))


@pytest.mark.parametrize("forgery", FORGERIES)
async def test_a_direct_call_without_a_valid_token_is_unauthorized(
    services: Pipeline, forgery: str
) -> None:
    """Forged identity headers, alone or with a token that is no proof, get 401."""
    await services.stock("SKU-A", 5)
    forged = issuer.forgeries(services.tenant)[forgery]
    for method, path in (("GET", "/v1/orders"), ("POST", "/v1/orders")):
        async with services.http.request(
            method,
            services.orders + path,
            json={"lines": [{"sku": "SKU-A", "quantity": 1}]},
            headers=forged,
        ) as response:
            assert response.status == 401, (forgery, method, await response.text())
            assert response.content_type == "application/problem+json"
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert (await services.available("SKU-A"))["available"] == 5  # nothing was reserved


async def test_a_token_for_one_tenant_with_headers_naming_another_acts_as_the_token(
    services: Pipeline,
) -> None:
    """The token's tenant places the order, reserves its stock through inventory and reads it;
    the tenant the headers name sees nothing."""
    other = uuid.uuid4()
    await services.stock("SKU-A", 5)
    mixed = {**pipeline.caller(services.tenant), **issuer.headers(other)}
    async with services.http.post(
        f"{services.orders}/v1/orders",
        json={"lines": [{"sku": "SKU-A", "quantity": 2}]},
        headers=mixed,
    ) as response:
        assert response.status == 201, await response.text()
        order = await response.json()
    assert order["state"] == "confirmed"  # inventory took orders' token for the same tenant
    assert (await services.available("SKU-A"))["available"] == 3
    url = f"{services.orders}/v1/orders/{order['id']}"
    async with services.http.get(url, headers=pipeline.caller(services.tenant)) as response:
        assert response.status == 200
    async with services.http.get(url, headers=pipeline.caller(other)) as response:
        assert response.status == 404


async def test_the_scopes_come_from_the_token_not_the_headers(services: Pipeline) -> None:
    """A read-only token stays read-only whatever scopes the headers claim."""
    read_only = pipeline.caller(services.tenant, (contracts.ORDERS_READ,))
    headers = {**read_only, contracts.SCOPES_HEADER: contracts.ORDERS_WRITE}
    async with services.http.post(
        f"{services.orders}/v1/orders",
        json={"lines": [{"sku": "SKU-A", "quantity": 1}]},
        headers=headers,
    ) as response:
        assert response.status == 403
