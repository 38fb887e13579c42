"""Tenant isolation of orders, at the API and in PostgreSQL under the service's role."""

from __future__ import annotations

import uuid

import asyncpg

from meridian.localplatform import platform
from tests.integration.services import pipeline
from tests.integration.services.orders.conftest import Pipeline


async def test_tenant_b_cannot_read_list_or_cancel_tenant_as_order(services: Pipeline) -> None:
    item = f"sku-{uuid.uuid4().hex[:8]}"
    await services.stock(item, 5)
    _, order = await services.order([{"sku": item, "quantity": 1}])
    intruder = pipeline.caller(uuid.uuid4())
    url = f"{services.orders}/v1/orders/{order['id']}"
    async with services.http.get(url, headers=intruder) as response:
        assert response.status == 404
    async with services.http.post(f"{url}/cancel", headers=intruder) as response:
        assert response.status == 404
    async with services.http.get(f"{services.orders}/v1/orders", headers=intruder) as response:
        assert (await response.json())["items"] == []
    async with services.http.get(url, headers=pipeline.caller(services.tenant)) as response:
        assert (await response.json())["state"] == "confirmed"
    async with services.http.get(f"{services.orders}/v1/orders") as response:
        assert response.status == 401


async def test_database_policies_hide_other_tenants_rows_from_the_app_role(
    services: Pipeline, local_platform: platform.PlatformState
) -> None:
    item = f"sku-{uuid.uuid4().hex[:8]}"
    await services.stock(item, 5)
    _, order = await services.order([{"sku": item, "quantity": 1}])
    order_id = uuid.UUID(str(order["id"]))

    async def visible(dsn: str, role: str, tenant: uuid.UUID, sql: str) -> int:
        connection = await asyncpg.connect(dsn)
        try:
            async with connection.transaction():
                await connection.execute(f"SET LOCAL ROLE {role}")
                await connection.execute(
                    "SELECT set_config('meridian.tenant_id', $1, true)", str(tenant)
                )
                return int(await connection.fetchval(sql, tenant))
        finally:
            await connection.close()

    orders_dsn = local_platform.postgres_info.dsn("meridian_orders")
    inventory_dsn = local_platform.postgres_info.dsn("meridian_inventory")
    other = uuid.uuid4()
    count_order = f"SELECT count(*) FROM orders WHERE id = '{order_id}' OR tenant_id = $1"
    assert await visible(orders_dsn, "meridian_orders_app", services.tenant, count_order) == 1
    assert await visible(orders_dsn, "meridian_orders_app", other, count_order) == 0
    # Even asking for A's rows by tenant id, B's setting sees none of them.
    all_a = "SELECT count(*) FROM orders WHERE tenant_id <> $1"
    assert await visible(orders_dsn, "meridian_orders_app", other, all_a) == 0
    stock = "SELECT count(*) FROM stock WHERE tenant_id <> $1"
    assert await visible(inventory_dsn, "meridian_inventory_app", other, stock) == 0
    reservations = (
        f"SELECT count(*) FROM reservations WHERE order_id = '{order_id}' OR tenant_id = $1"
    )
    assert (
        await visible(inventory_dsn, "meridian_inventory_app", services.tenant, reservations) == 1
    )
    assert await visible(inventory_dsn, "meridian_inventory_app", other, reservations) == 0
    unscoped = await asyncpg.connect(orders_dsn)
    try:
        async with unscoped.transaction():
            await unscoped.execute("SET LOCAL ROLE meridian_orders_app")
            assert await unscoped.fetchval("SELECT count(*) FROM orders") == 0
    finally:
        await unscoped.close()
