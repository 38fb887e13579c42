"""The index document of a product event, in the layout of `meridian.core.search.mapping`.

Deleted products stay as tombstone documents (`deleted`, invisible, no suggestion), holding their
version, so an older upsert arriving after the deletion is refused by the version check.
"""

from __future__ import annotations

from typing import Any

from meridian.services.kit import contracts


def category_path(category: str) -> list[str]:
    """Every ancestor of a category and itself: "shelter/tarps" -> ["shelter", "shelter/tarps"],
    so a filter on "shelter" finds its subcategories with one term query."""
    parts = category.split("/") if category else []
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


_RESERVED = dict.fromkeys((0x00, 0x1E, 0x1F))


def suggestions(product: contracts.ProductData) -> list[str]:
    """What autocomplete matches a prefix against: the name, each later word of it onwards
    ("tarp" finds "Silnylon Tarp"), and the brand."""
    words = product.name.split()
    inputs = [" ".join(words[i:]) for i in range(len(words))][:10]
    if product.brand:
        inputs.append(product.brand)
    # The completion field refuses Lucene's reserved separators: a name holding one must not
    # fail its whole document.
    cleaned = (text.translate(_RESERVED)[:100] for text in inputs)
    return [text for text in cleaned if text]


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
