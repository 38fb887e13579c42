"""Inventory's request and response bodies (the reservation API's and the product body are in
`kit.contracts`)."""

from __future__ import annotations

import datetime

from pydantic import BaseModel, ConfigDict, Field, JsonValue, RootModel

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


class Product(contracts.ProductData):
    """A product of the catalogue as stored: its body, plus the version every change bumps."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = Field(description="Grows by one with every change of the SKU")
    updated_at: datetime.datetime


class ProductBulk(BaseModel):
    """POST /v1/inventory/products with `{"products": [...]}`: up to 500 in one transaction."""

    model_config = ConfigDict(extra="forbid")

    products: list[contracts.ProductData] = Field(min_length=1, max_length=500)


class ProductBulkResult(BaseModel):
    items: list[Product]
    changed: int = Field(description="How many were created or changed (the rest were equal)")


class ProductList(BaseModel):
    items: list[Product]
    next_after: contracts.Sku | None = Field(
        description="Pass as `after` for the next page; null on the last page"
    )


class JsonObject(RootModel[dict[str, JsonValue]]):
    """A request body read before its shape is known (one product, or `{"products": [...]}`)."""


class ProductUpsert(RootModel[ProductBulk | contracts.ProductData]):
    """POST /v1/inventory/products as documented: one product, or `{"products": [...]}`. The
    handler picks the shape by the `products` key, so errors name the fields of that shape."""


class ProductUpsertResult(RootModel[Product | ProductBulkResult]):
    """What POST /v1/inventory/products answers: the product, or the batch's result."""
