"""Query text with a control character is refused as bad input (422 naming `q`), never sent to
Elasticsearch, whose completion suggester answers Lucene's reserved separators with an error (a
500 the schemathesis run found); a product name holding one still gets its suggestions."""

from __future__ import annotations

import pydantic
import pytest

from meridian.services.kit import contracts
from meridian.services.search import documents, models


@pytest.mark.parametrize("model", [models.SearchQuery, models.SuggestQuery])
@pytest.mark.parametrize("text", ["tarp\x1e", "\x1fx", "a\x00b", "line\nbreak"])
def test_query_text_with_a_control_character_is_refused(
    model: type[pydantic.BaseModel], text: str
) -> None:
    with pytest.raises(pydantic.ValidationError) as refused:
        model.model_validate({"q": text})
    assert refused.value.errors()[0]["loc"] == ("q",)


@pytest.mark.parametrize("model", [models.SearchQuery, models.SuggestQuery])
def test_ordinary_text_is_accepted(model: type[pydantic.BaseModel]) -> None:
    assert model.model_validate({"q": "Silnylon Tarp ïß 漢字"})


def test_suggestions_drop_the_reserved_separators() -> None:
    product = contracts.ProductData.model_validate(
        {
            "sku": "T-1",
            "name": "Tarp",
            "brand": "Zpack\x1es\x00",
            "category": "shelter/tarps",
            "price": {"amount": "89.00", "currency": "USD"},
        }
    )
    assert documents.suggestions(product) == ["Tarp", "Zpacks"]
