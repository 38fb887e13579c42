"""The product index's settings and mappings, versioned in code, and the document of an event.

Strict: a field not named here is refused (`dynamic: strict`), never mapped on the fly, so the
mapping cannot explode; a tenant's free-form attributes all go into one `flattened` field (core in
8.x), bounded to one level, 256-character values and the product contract's 50 keys. Only core
features of the integ-test distribution are used: the standard analyzer, the built-in lowercase
normalizer, `completion`; no scaled_float (the price is a double of the decimal amount).
Changing anything here means bumping `VERSION`: a new index per tenant, filled by a reindex, and
the alias swapped (`indices`), never an in-place mapping update.

Deleted products stay as tombstone documents (`deleted`, invisible, no suggestion), holding their
version, so an older upsert arriving after the deletion is refused by the version check.
"""

from __future__ import annotations

from typing import Any

from meridian.services.kit import contracts

VERSION = 1

SETTINGS: dict[str, Any] = {
    "number_of_shards": 1,
    "number_of_replicas": 0,
    "refresh_interval": "1s",
    "max_result_window": 10_000,
    "mapping": {"total_fields": {"limit": 100}, "depth": {"limit": 3}},
}

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "_meta": {"mapping_version": VERSION},
    "properties": {
        "sku": {"type": "keyword"},
        "name": {
            "type": "text",
            "fields": {"sort": {"type": "keyword", "normalizer": "lowercase", "ignore_above": 256}},
        },
        "description": {"type": "text"},
        "brand": {"type": "keyword", "fields": {"text": {"type": "text"}}},
        "category": {"type": "keyword"},
        "category_path": {"type": "keyword"},
        "price": {"type": "double"},
        "price_amount": {"type": "keyword", "index": False},
        "currency": {"type": "keyword"},
        "attributes": {"type": "flattened", "depth_limit": 1, "ignore_above": 256},
        "image_keys": {"type": "keyword", "index": False, "doc_values": False},
        "active": {"type": "boolean"},
        "deleted": {"type": "boolean"},
        "visible": {"type": "boolean"},
        "version": {"type": "long"},
        "updated_at": {"type": "date"},
        "suggest": {"type": "completion", "max_input_length": 100},
    },
}


def category_path(category: str) -> list[str]:
    """Every ancestor of a category and itself: "shelter/tarps" -> ["shelter", "shelter/tarps"],
    so a filter on "shelter" finds its subcategories with one term query."""
    parts = category.split("/") if category else []
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


def suggestions(product: contracts.ProductData) -> list[str]:
    """What autocomplete matches a prefix against: the name, each later word of it onwards
    ("tarp" finds "Silnylon Tarp"), and the brand."""
    words = product.name.split()
    inputs = [" ".join(words[i:]) for i in range(len(words))][:10]
    if product.brand:
        inputs.append(product.brand)
    return [text[:100] for text in inputs if text]


def upserted(event: contracts.ProductUpsertedEvent) -> dict[str, Any]:
    product = event.product
    document: dict[str, Any] = {
        "sku": product.sku,
        "name": product.name,
        "description": product.description,
        "brand": product.brand,
        "category": product.category,
        "category_path": category_path(product.category),
        "price": float(product.price.amount),
        "price_amount": str(product.price.amount),
        "currency": product.price.currency,
        "attributes": {key: str(value) for key, value in product.attributes.items()},
        "image_keys": list(product.image_keys),
        "active": product.active,
        "deleted": False,
        "visible": product.active,
        "version": event.version,
        "updated_at": event.occurred_at.isoformat(),
    }
    if product.active:
        document["suggest"] = suggestions(product)
    return document


def deleted(event: contracts.ProductDeletedEvent) -> dict[str, Any]:
    return {
        "sku": event.sku,
        "active": False,
        "deleted": True,
        "visible": False,
        "version": event.version,
        "updated_at": event.occurred_at.isoformat(),
    }
