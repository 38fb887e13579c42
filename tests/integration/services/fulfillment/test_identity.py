"""Fulfillment shows shipments only to the tenant its token proves, whatever the identity
headers say (issue 9, item 11)."""

from __future__ import annotations

import uuid

import pytest

from meridian.services.kit import contracts
from tests import issuer
from tests.integration.services.fulfillment.conftest import Client
from tests.integration.services.fulfillment.test_api import as_tenant, shipped  # noqa: F401

FORGERIES = sorted(issuer.forgeries(uuid.uuid4()))


@pytest.mark.parametrize("forgery", FORGERIES)
async def test_a_direct_call_without_a_valid_token_is_unauthorized(
    service: Client,
    shipped: contracts.ShipmentEvent,  # noqa: F811
    forgery: str,
) -> None:
    """Forged headers naming the shipment's own tenant, alone or with a token that is no proof."""
    forged = issuer.forgeries(shipped.tenant_id)[forgery]
    for path in (
        f"/v1/fulfillment/shipments/{shipped.shipment_id}",
        f"/v1/fulfillment/shipments?order_id={shipped.order_id}",
    ):
        response = await service.get(path, headers=forged)
        assert response.status == 401, (forgery, path, await response.text())
        assert response.content_type == "application/problem+json"


async def test_a_token_for_one_tenant_with_headers_naming_another_acts_as_the_token(
    service: Client,
    shipped: contracts.ShipmentEvent,  # noqa: F811
) -> None:
    """The shipment's tenant named in the headers does not open it to another tenant's token,
    and another tenant named in the headers does not hide it from its own."""
    intruder = uuid.uuid4()
    path = f"/v1/fulfillment/shipments/{shipped.shipment_id}"
    response = await service.get(
        path, headers={**as_tenant(intruder), **issuer.headers(shipped.tenant_id)}
    )
    assert response.status == 404
    response = await service.get(
        path, headers={**as_tenant(shipped.tenant_id), **issuer.headers(intruder)}
    )
    assert response.status == 200
    assert (await response.json())["order_id"] == str(shipped.order_id)
