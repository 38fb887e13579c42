"""What search sends Elasticsearch, built from typed parameters (no server needed)."""

from __future__ import annotations

import datetime
import decimal
import uuid

from meridian.core.search import mapping
from meridian.services.kit import contracts
from meridian.services.search import documents, models, query


def test_every_search_sees_only_visible_products_and_filters_by_category_path() -> None:
    body = query.search_body(
        models.SearchQuery(category="shelter", brand="Acme", price_max=decimal.Decimal("100")),
        {"colour": "green"},
    )
    filters = body["query"]["bool"]["filter"]
    assert filters[0] == {"term": {"visible": True}}
    assert {"term": {"category_path": "shelter"}} in filters
    assert {"term": {"brand": "Acme"}} in filters
    assert {"range": {"price": {"lte": 100.0}}} in filters
    assert {"term": {"attributes.colour": "green"}} in filters


def test_text_is_only_ever_a_query_string_and_pages_are_offsets() -> None:
    body = query.search_body(models.SearchQuery(q='{"match_all": {}}', page=3, size=10), {})
    (must,) = body["query"]["bool"]["must"]
    assert must["multi_match"]["query"] == '{"match_all": {}}'
    assert (body["from"], body["size"]) == (20, 10)
    assert query.search_body(models.SearchQuery(), {})["query"]["bool"]["must"] == [
        {"match_all": {}}
    ]


def test_category_path_lists_every_ancestor() -> None:
    assert documents.category_path("shelter/tarps/ultralight") == [
        "shelter",
        "shelter/tarps",
        "shelter/tarps/ultralight",
    ]
    assert documents.category_path("") == []


def _event(active: bool) -> contracts.ProductUpsertedEvent:
    return contracts.ProductUpsertedEvent(
        type="product.upserted",
        message_id=uuid.uuid4(),
        occurred_at=datetime.datetime(2026, 11, 27, tzinfo=datetime.UTC),
        tenant_id=uuid.uuid4(),
        version=4,
        product=contracts.ProductData(
            sku="t-1",
            name="Silnylon Tarp 3x3",
            brand="Acme",
            price=contracts.ProductPrice(amount=decimal.Decimal("89.00"), currency="USD"),
            attributes={"weight_g": 450},
            active=active,
        ),
    )


def test_documents_suggest_each_later_word_and_only_when_active() -> None:
    document = documents.upserted(_event(active=True))
    assert document["suggest"] == ["Silnylon Tarp 3x3", "Tarp 3x3", "3x3", "Acme"]
    assert (document["price"], document["price_amount"], document["version"]) == (89.0, "89.00", 4)
    assert document["attributes"] == {"weight_g": "450"}
    assert "suggest" not in documents.upserted(_event(active=False))
    assert documents.upserted(_event(active=False))["visible"] is False


def test_every_document_field_is_in_the_strict_mapping() -> None:
    """A field the mapping lacks would be refused by Elasticsearch (dynamic: strict)."""
    properties = set(mapping.MAPPINGS["properties"])
    assert set(documents.upserted(_event(active=True))) <= properties
    assert mapping.MAPPINGS["dynamic"] == "strict"
