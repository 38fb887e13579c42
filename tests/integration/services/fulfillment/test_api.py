"""The shipments API and the database keep tenants apart; probes, OpenAPI and bad input."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from meridian.core.runtime import db
from meridian.services.fulfillment import store
from meridian.services.fulfillment.settings import Settings as FulfillmentSettings
from meridian.services.kit import contracts
from tests import issuer
from tests.integration.services.fulfillment.conftest import (
    Client,
    Events,
    order_confirmed,
    shipments_of,
)

ROLE = FulfillmentSettings().db_role


@pytest_asyncio.fixture
async def shipped(
    service: Client, publish: Callable[..., Any], events: Events
) -> contracts.ShipmentEvent:
    """Tenant A's order, shipped."""
    await publish(order_confirmed(("sku-1", "wh-1", 1)))
    (event,) = await events.take(1)
    return event


@pytest_asyncio.fixture
async def pool(fulfillment_dsn: str, service: Client) -> AsyncIterator[db.Pool]:
    """A pool on the service's database (its migrations ran when `service` started)."""
    pool = await db.create_pool(fulfillment_dsn, application_name="fulfillment-tests", max_size=2)
    yield pool
    await pool.close()


def as_tenant(tenant_id: uuid.UUID) -> dict[str, str]:
    return {"Authorization": f"Bearer {issuer.mint(tenant_id, [contracts.ORDERS_READ])}"}


async def test_tenant_reads_its_own_shipment(
    service: Client, shipped: contracts.ShipmentEvent
) -> None:
    response = await service.get(
        f"/v1/fulfillment/shipments/{shipped.shipment_id}", headers=as_tenant(shipped.tenant_id)
    )
    assert response.status == 200
    body = await response.json()
    assert body["tracking_number"] == shipped.tracking_number
    assert body["order_id"] == str(shipped.order_id)
    listed = await service.get("/v1/fulfillment/shipments", headers=as_tenant(shipped.tenant_id))
    assert [s["id"] for s in (await listed.json())["items"]] == [str(shipped.shipment_id)]


async def test_other_tenant_cannot_see_the_shipment_through_the_api(
    service: Client, shipped: contracts.ShipmentEvent
) -> None:
    intruder = uuid.uuid4()
    one = await service.get(
        f"/v1/fulfillment/shipments/{shipped.shipment_id}", headers=as_tenant(intruder)
    )
    assert one.status == 404
    assert one.content_type == "application/problem+json"
    assert await shipments_of(service, intruder, shipped.order_id) == []
    listed = await service.get("/v1/fulfillment/shipments", headers=as_tenant(intruder))
    assert (await listed.json())["items"] == []


async def test_other_tenant_cannot_read_or_write_the_shipment_in_the_database(
    pool: db.Pool, shipped: contracts.ShipmentEvent
) -> None:
    intruder = uuid.uuid4()
    async with db.tenant_connection(pool, shipped.tenant_id, role=ROLE) as connection:
        assert await connection.fetchval("SELECT current_user") == ROLE
        assert await store.get(connection, shipped.shipment_id) is not None
    async with db.tenant_connection(pool, intruder, role=ROLE) as connection:
        assert await store.get(connection, shipped.shipment_id) is None
        assert await connection.fetchval("SELECT count(*) FROM shipments") == 0
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with db.tenant_connection(pool, intruder, role=ROLE) as connection:
            await connection.execute(
                "INSERT INTO shipments (id, tenant_id, order_id, warehouse, carrier,"
                " carrier_shipment_id, tracking_number, service, rate_amount, rate_currency,"
                " label_key, allocations) VALUES ($1, $2, $3, 'wh', 'c', 's', 't', 'ground', 1,"
                " 'USD', 'k', '[]')",
                uuid.uuid4(),
                shipped.tenant_id,
                uuid.uuid4(),
            )
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="permission denied"):
        async with db.tenant_connection(pool, shipped.tenant_id, role=ROLE) as connection:
            await connection.execute("UPDATE shipments SET tracking_number = 'x'")  # immutable
    # The role's own attributes: nothing lets it around the policy; the session role is back.
    async with pool.acquire() as connection:
        role = await connection.fetchrow(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1", ROLE
        )
        assert role is not None
        assert (role["rolsuper"], role["rolbypassrls"]) == (False, False)
        assert await connection.fetchval("SELECT current_user") != ROLE


async def test_app_role_without_a_tenant_sees_no_shipments(
    pool: db.Pool, shipped: contracts.ShipmentEvent
) -> None:
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(f"SET LOCAL ROLE {ROLE}")
        assert await connection.fetchval("SELECT count(*) FROM shipments") == 0


async def test_request_without_tenant_identity_is_unauthorized(service: Client) -> None:
    for headers in ({}, {contracts.TENANT_HEADER: "not-a-uuid"}):
        response = await service.get("/v1/fulfillment/shipments", headers=headers)
        assert response.status == 401
        assert response.content_type == "application/problem+json"


async def test_bad_query_is_answered_with_a_problem_naming_the_field(service: Client) -> None:
    tenant = as_tenant(uuid.uuid4())
    response = await service.get(
        "/v1/fulfillment/shipments", params={"order_id": "x", "limit": "0"}, headers=tenant
    )
    assert response.status == 422
    fields = {e["field"] for e in (await response.json())["errors"]}
    assert fields == {"/order_id", "/limit"}
    missing = await service.get("/v1/fulfillment/shipments/not-a-uuid", headers=tenant)
    assert missing.status == 404


async def test_probes_and_openapi(service: Client) -> None:
    ready = await service.get("/readyz")
    assert ready.status == 200
    assert (await ready.json())["checks"] == ["postgres", "rabbitmq", "s3"]
    document = await (await service.get("/openapi.json")).json()
    assert "/v1/fulfillment/shipments/{id}" in document["paths"]
    metrics = await service.get("/metrics")
    assert "http_requests" in await metrics.text()
