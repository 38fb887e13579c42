"""Inventory acts only for the caller its token proves (the gateway's or orders'), whatever the
identity headers say (issue 9, item 11)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from meridian.localplatform import platform
from meridian.services.kit import contracts
from meridian.services.kit.trust import tokens
from tests import issuer
from tests.integration.services import pipeline

FORGERIES = sorted(issuer.forgeries(uuid.uuid4()))
STOCK = {"warehouse": "w1", "on_hand": 7}


@pytest_asyncio.fixture
async def inventory(local_platform: platform.PlatformState, suffix: str) -> AsyncIterator[str]:
    settings = pipeline.inventory_config(local_platform, suffix)
    async with pipeline.serving_inventory(settings) as url:
        yield url


@pytest_asyncio.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.mark.parametrize("forgery", FORGERIES)
async def test_a_direct_call_without_a_valid_token_is_unauthorized(
    inventory: str, http: aiohttp.ClientSession, forgery: str
) -> None:
    """Forged identity headers, alone or with a token that is no proof, get 401 and change
    nothing."""
    tenant = uuid.uuid4()
    forged = issuer.forgeries(tenant)[forgery]
    url = f"{inventory}/v1/inventory/stock/SKU-A"
    async with http.put(url, json=STOCK, headers=forged) as response:
        assert response.status == 401, (forgery, await response.text())
        assert response.content_type == "application/problem+json"
    async with http.get(url, headers=pipeline.caller(tenant)) as response:
        assert response.status == 404


async def test_a_token_for_one_tenant_with_headers_naming_another_acts_as_the_token(
    inventory: str, http: aiohttp.ClientSession
) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    url = f"{inventory}/v1/inventory/stock/SKU-A"
    mixed = {**pipeline.caller(tenant), **issuer.headers(other)}
    async with http.put(url, json=STOCK, headers=mixed) as response:
        assert response.status == 200, await response.text()
    async with http.get(url, headers=pipeline.caller(tenant)) as response:
        assert (await response.json())["on_hand"] == 7
    async with http.get(url, headers=pipeline.caller(other)) as response:
        assert response.status == 404


async def test_orders_proves_itself_with_its_own_key_for_this_audience_only(
    inventory: str, http: aiohttp.ClientSession
) -> None:
    """A token orders signed for inventory reserves; one it signed for another service does not."""
    tenant = uuid.uuid4()
    url = f"{inventory}/v1/inventory/stock/SKU-A"
    async with http.put(url, json=STOCK, headers=pipeline.caller(tenant)) as response:
        assert response.status == 200
    request = {"order_id": str(uuid.uuid4()), "lines": [{"sku": "SKU-A", "quantity": 1}]}
    scopes = [contracts.ORDERS_WRITE]
    for audience, status in (("meridian-fulfillment", 401), (tokens.principal("inventory"), 201)):
        token = issuer.mint(tenant, scopes, issuer=issuer.ORDERS, audience=audience)
        async with http.post(
            f"{inventory}/v1/inventory/reservations",
            json=request,
            headers={"Authorization": f"Bearer {token}"},
        ) as response:
            assert response.status == status, (audience, await response.text())
