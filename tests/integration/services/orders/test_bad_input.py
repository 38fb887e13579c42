"""Bad input is a 4xx problem+json naming the field, and nothing is written."""

from __future__ import annotations

import io
import uuid
from typing import Any

import asyncpg
import pytest

from meridian.localplatform import platform
from tests.integration.services import pipeline
from tests.integration.services.orders.conftest import Pipeline

ITEM = "sku-bad-input"


async def rows_of(dsn: str, tenant: uuid.UUID) -> tuple[int, int]:
    connection = await asyncpg.connect(dsn)
    try:
        orders = await connection.fetchval(
            "SELECT count(*) FROM orders WHERE tenant_id = $1", tenant
        )
        events = await connection.fetchval(
            "SELECT count(*) FROM outbox WHERE payload->>'tenant_id' = $1", str(tenant)
        )
        return int(orders), int(events)
    finally:
        await connection.close()


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, None),
        (b'{"lines": "many"}', 422, "/lines"),
        (b'{"lines": [{"sku": "sku-bad-input", "quantity": "two"}]}', 422, "/lines/0/quantity"),
        (b'{"lines": [{"sku": "sku-bad-input", "quantity": -1}]}', 422, "/lines/0/quantity"),
        (b'{"lines": [{"sku": "sku-bad-input", "quantity": 1, "x": 1}]}', 422, "/lines/0/x"),
        (b'{"lines": []}', 422, "/lines"),
        (b'{"lines": [{"sku": "no-such-sku", "quantity": 1}]}', 422, "/lines/0/sku"),
        (
            b'{"lines": [{"sku": "sku-bad-input", "quantity": 1}], "pad": "'
            + b"x" * 2_000_000
            + b'"}',
            413,
            None,
        ),
    ],
)
async def test_bad_order_is_refused_naming_the_field_and_nothing_is_written(
    services: Pipeline,
    local_platform: platform.PlatformState,
    body: bytes,
    status: int,
    field: str | None,
) -> None:
    await services.stock(ITEM, 5)
    headers = {**pipeline.caller(services.tenant), "Content-Type": "application/json"}
    url = f"{services.orders}/v1/orders"
    async with services.http.post(url, data=io.BytesIO(body), headers=headers) as r:
        assert r.status == status, await r.text()
        assert r.content_type == "application/problem+json"
        problem: dict[str, Any] = await r.json(content_type=None)
    if field is not None:
        assert field in [e["field"] for e in problem["errors"]]
    assert await rows_of(local_platform.postgres_info.dsn("meridian_orders"), services.tenant) == (
        0,
        0,
    )
    assert (await services.available(ITEM))["reserved"] == 0
