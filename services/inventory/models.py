"""Inventory's request and response bodies (the reservation API's are in `kit.contracts`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from meridian.services.kit import contracts

WAREHOUSE = Field(min_length=1, max_length=64, pattern=contracts.CODE_PATTERN)


class StockUpdate(BaseModel):
    """PUT /v1/inventory/stock/{sku}: what is on the shelves of one warehouse now."""

    model_config = ConfigDict(extra="forbid")

    warehouse: str = WAREHOUSE
    on_hand: int = Field(ge=0, le=1_000_000_000)


class SkuPath(BaseModel):
    sku: contracts.Sku = Field(min_length=1, max_length=64, pattern=contracts.CODE_PATTERN)


class WarehouseStock(BaseModel):
    warehouse: str
    on_hand: int
    reserved: int
    available: int


class Stock(BaseModel):
    """One SKU: per warehouse and in total; `available` = on_hand - reserved."""

    sku: contracts.Sku
    on_hand: int
    reserved: int
    available: int
    warehouses: list[WarehouseStock]
    version: int = Field(description="Grows with every change (cache ordering)")


class StockList(BaseModel):
    items: list[Stock]
    next_after: contracts.Sku | None = Field(
        description="Pass as `after` for the next page; null on the last page"
    )
