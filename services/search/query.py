"""Typed parameters -> Elasticsearch request bodies, and Elasticsearch answers -> our models.

Pure functions, so every query the service can send is visible (and unit-tested) here; callers'
text only ever lands in a `multi_match` query string or a `term` value, never as DSL.
Facets count over the filtered results: category (full paths), brand, and fixed price ranges.
"""

from __future__ import annotations

import decimal
from collections.abc import Mapping
from typing import Any

from meridian.services.search import models

PRICE_RANGES: tuple[tuple[int | None, int | None], ...] = (
    (None, 25),
    (25, 50),
    (50, 100),
    (100, 250),
    (250, None),
)
FACET_SIZE = 20
SORTS: dict[str, list[Any]] = {
    "relevance": ["_score", {"sku": "asc"}],
    "price_asc": [{"price": "asc"}, {"sku": "asc"}],
    "price_desc": [{"price": "desc"}, {"sku": "asc"}],
    "name": [{"name.sort": "asc"}, {"sku": "asc"}],
    "newest": [{"updated_at": "desc"}, {"sku": "asc"}],
}
SOURCE = [
    "sku",
    "name",
    "description",
    "brand",
    "category",
    "price_amount",
    "currency",
    "attributes",
    "image_keys",
]


def search_body(query: models.SearchQuery, attributes: Mapping[str, str]) -> dict[str, Any]:
    filters: list[dict[str, Any]] = [{"term": {"visible": True}}]
    if query.category:
        filters.append({"term": {"category_path": query.category}})
    if query.brand:
        filters.append({"term": {"brand": query.brand}})
    if query.currency:
        filters.append({"term": {"currency": query.currency}})
    price: dict[str, float] = {}
    if query.price_min is not None:
        price["gte"] = float(query.price_min)
    if query.price_max is not None:
        price["lte"] = float(query.price_max)
    if price:
        filters.append({"range": {"price": price}})
    for key, value in sorted(attributes.items()):
        filters.append({"term": {f"attributes.{key}": value}})
    text: dict[str, Any] = (
        {
            "multi_match": {
                "query": query.q,
                "fields": ["name^3", "brand.text^2", "description"],
                "operator": "and",
            }
        }
        if query.q.strip()
        else {"match_all": {}}
    )
    ranges = [
        {k: v for k, v in (("from", low), ("to", high)) if v is not None}
        for low, high in PRICE_RANGES
    ]
    return {
        "query": {"bool": {"must": [text], "filter": filters}},
        "aggs": {
            "category": {"terms": {"field": "category", "size": FACET_SIZE}},
            "brand": {"terms": {"field": "brand", "size": FACET_SIZE}},
            "price": {"range": {"field": "price", "ranges": ranges}},
        },
        "sort": SORTS[query.sort],
        "from": (query.page - 1) * query.size,
        "size": query.size,
        "track_total_hits": True,
        "_source": SOURCE,
    }


def suggest_body(query: models.SuggestQuery) -> dict[str, Any]:
    return {
        "size": 0,
        "_source": ["sku", "name"],
        "suggest": {
            "products": {
                "prefix": query.q,
                "completion": {"field": "suggest", "size": query.size, "skip_duplicates": True},
            }
        },
    }


def _decimal(value: float | None) -> decimal.Decimal | None:
    return None if value is None else decimal.Decimal(str(value))


def search_result(query: models.SearchQuery, answer: Mapping[str, Any]) -> models.SearchResult:
    hits = [
        models.Hit(
            sku=source["sku"],
            name=source["name"],
            description=source.get("description", ""),
            brand=source.get("brand", ""),
            category=source.get("category", ""),
            price={"amount": source["price_amount"], "currency": source["currency"]},
            attributes=source.get("attributes", {}),
            image_keys=source.get("image_keys", []),
            score=hit.get("_score"),
        )
        for hit in answer["hits"]["hits"]
        for source in [hit["_source"]]
    ]
    aggregations = answer["aggregations"]
    facets = models.Facets(
        category=[
            models.Bucket(value=b["key"], count=b["doc_count"])
            for b in aggregations["category"]["buckets"]
        ],
        brand=[
            models.Bucket(value=b["key"], count=b["doc_count"])
            for b in aggregations["brand"]["buckets"]
        ],
        price=[
            models.PriceBucket(
                from_=_decimal(b.get("from")), to=_decimal(b.get("to")), count=b["doc_count"]
            )
            for b in aggregations["price"]["buckets"]
        ],
    )
    return models.SearchResult(
        total=answer["hits"]["total"]["value"],
        page=query.page,
        size=query.size,
        items=hits,
        facets=facets,
    )


def empty_result(query: models.SearchQuery) -> models.SearchResult:
    """A tenant without an index yet (nothing in its catalogue was ever indexed)."""
    price = [
        models.PriceBucket(from_=_decimal(low), to=_decimal(high), count=0)
        for low, high in PRICE_RANGES
    ]
    facets = models.Facets(category=[], brand=[], price=price)
    return models.SearchResult(total=0, page=query.page, size=query.size, items=[], facets=facets)


def suggest_result(answer: Mapping[str, Any]) -> models.SuggestResult:
    options = answer.get("suggest", {}).get("products", [{}])[0].get("options", [])
    return models.SuggestResult(
        items=[
            models.Suggestion(text=o["text"], sku=o["_source"]["sku"], name=o["_source"]["name"])
            for o in options
        ]
    )
