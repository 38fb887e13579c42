"""Search's query parameters and answers: all the caller ever sees (never Elasticsearch's DSL)."""

from __future__ import annotations

import decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from meridian.services.kit import contracts

CATEGORY_PATTERN = r"^[a-z0-9][a-z0-9-]*(/[a-z0-9][a-z0-9-]*){0,4}$"
ATTRIBUTE_PREFIX = "attr."
"""`attr.<key>=<value>` filters on one attribute (`attr.colour=green`), up to `MAX_ATTRIBUTES`."""
MAX_ATTRIBUTES = 10

Sort = Literal["relevance", "price_asc", "price_desc", "name", "newest"]


TEXT_PATTERN = r"^[^\x00-\x1f\x7f]*$"
"""Query text holds no control characters: the completion suggester refuses \x1e and \x1f
(Lucene's reserved separators) with an error, and none of them is anything a shopper types."""


class SearchQuery(BaseModel):
    """GET /v1/search/products: text, filters, sort, page. Unknown parameters are refused."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field(
        default="",
        max_length=200,
        pattern=TEXT_PATTERN,
        description="Words over name, brand, description",
    )
    category: str | None = Field(
        default=None, pattern=CATEGORY_PATTERN, description="This category and those below it"
    )
    brand: str | None = Field(default=None, min_length=1, max_length=100)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    price_min: decimal.Decimal | None = Field(default=None, ge=0, le=10**10)
    price_max: decimal.Decimal | None = Field(default=None, ge=0, le=10**10)
    sort: Sort = "relevance"
    page: int = Field(default=1, ge=1, le=1000)
    size: int = Field(default=20, ge=1, le=100)


class SuggestQuery(BaseModel):
    """GET /v1/search/suggest: completions of a prefix."""

    model_config = ConfigDict(extra="forbid")

    q: str = Field(min_length=1, max_length=100, pattern=TEXT_PATTERN)
    size: int = Field(default=5, ge=1, le=10)


class Hit(BaseModel):
    sku: contracts.Sku
    name: str
    description: str
    brand: str
    category: str
    price: contracts.ProductPrice
    attributes: dict[str, str]
    image_keys: list[str]
    score: float | None


class Bucket(BaseModel):
    value: str
    count: int


class PriceBucket(BaseModel):
    from_: decimal.Decimal | None = Field(alias="from", serialization_alias="from")
    to: decimal.Decimal | None
    count: int

    model_config = ConfigDict(populate_by_name=True)


class Facets(BaseModel):
    category: list[Bucket]
    brand: list[Bucket]
    price: list[PriceBucket]


class SearchResult(BaseModel):
    total: int
    page: int
    size: int
    items: list[Hit]
    facets: Facets


class Suggestion(BaseModel):
    text: str
    sku: contracts.Sku
    name: str


class SuggestResult(BaseModel):
    items: list[Suggestion]
