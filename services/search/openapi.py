"""Search's OpenAPI 3.1 description, served at GET /openapi.json."""

from __future__ import annotations

from typing import Any

from meridian.services.kit import contracts, openapi
from meridian.services.search import jobs, models

_SEARCH = models.SearchQuery.model_json_schema()["properties"]
_SUGGEST = models.SuggestQuery.model_json_schema()["properties"]


def _parameters(properties: dict[str, Any], required: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "query", "required": name in required, "schema": schema}
        for name, schema in properties.items()
    ]


OPERATIONS = (
    openapi.Operation(
        "GET",
        "/v1/search/products",
        "searchProducts",
        "Full-text search of the caller's catalogue with filters, facets, sort and pages"
        " (attribute filters: attr.<key>=<value>)",
        scope=contracts.SEARCH_READ,
        parameters=_parameters(_SEARCH),
        responses={
            200: ("A page of products and the facets of all matches", models.SearchResult),
            422: ("A parameter is unknown, malformed or too deep (named)", None),
            503: ("Elasticsearch cannot answer now (Retry-After)", None),
        },
    ),
    openapi.Operation(
        "GET",
        "/v1/search/suggest",
        "suggestProducts",
        "Autocomplete: products whose name (or any later word of it) or brand starts with q",
        scope=contracts.SEARCH_READ,
        parameters=_parameters(_SUGGEST, required=("q",)),
        responses={
            200: ("Suggestions, best first", models.SuggestResult),
            422: ("A parameter is unknown or malformed (named)", None),
            503: ("Elasticsearch cannot answer now (Retry-After)", None),
        },
    ),
)


ADMIN = (
    openapi.Operation(
        "POST",
        "/v1/search/reindex",
        "startReindex",
        "Rebuild the caller's index from the catalogue and swap it in without downtime; resumes"
        " an abandoned run, and answers the running one instead of starting a second",
        scope=contracts.SEARCH_ADMIN,
        responses={
            202: ("The run, started or already running", jobs.Progress),
            503: (
                "Elasticsearch cannot answer, or this replica cannot reindex (Retry-After)",
                None,
            ),
        },
    ),
    openapi.Operation(
        "GET",
        "/v1/search/reindex",
        "reindexStatus",
        "The last reindex of the caller's catalogue: state, documents copied, started, finished",
        scope=contracts.SEARCH_ADMIN,
        responses={
            200: ("The last run (a run whose heartbeat stopped is `abandoned`)", jobs.Progress),
            404: ("Never reindexed", None),
            503: ("Elasticsearch cannot answer now (Retry-After)", None),
        },
    ),
)


def description(*, signs: bool = False) -> dict[str, Any]:
    """`signs`: the service has a signing key (for reading the catalogue) and serves its JWKS."""
    return openapi.document(
        title="Meridian search", version="1.0.0", operations=OPERATIONS + ADMIN, signs=signs
    )
