"""Search's HTTP handlers: the tenant from the verified identity, typed parameters, one call to
Elasticsearch on the tenant's alias; 503 with Retry-After while it cannot answer."""

from __future__ import annotations

import re
from typing import Any

import pydantic
from aiohttp import web

from meridian.core.runtime import payloads, problems
from meridian.core.search import elastic, indices
from meridian.services.kit import contracts
from meridian.services.kit.trust import identity
from meridian.services.search import models, query
from meridian.services.search.settings import SETTINGS

ELASTIC = web.AppKey("elastic", elastic.Elastic)
ATTRIBUTE_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def _json(model: pydantic.BaseModel) -> web.Response:
    return web.json_response(text=model.model_dump_json(by_alias=True))


def _split(request: web.Request) -> tuple[dict[str, str], dict[str, str]]:
    """(plain parameters, `attr.<key>` filters); a repeated parameter is refused, by name."""
    plain: dict[str, str] = {}
    attributes: dict[str, str] = {}
    errors: list[problems.FieldError] = []
    for name in request.query:
        values = request.query.getall(name)
        if len(values) > 1:
            errors.append(problems.FieldError(f"/{name}", "Given more than once"))
        elif name.startswith(models.ATTRIBUTE_PREFIX):
            key = name[len(models.ATTRIBUTE_PREFIX) :]
            if not ATTRIBUTE_KEY.match(key) or not 0 < len(values[0]) <= 256:
                errors.append(problems.FieldError(f"/{name}", "Not an attribute filter"))
            attributes[key] = values[0]
        else:
            plain[name] = values[0]
    if len(attributes) > models.MAX_ATTRIBUTES:
        errors.append(problems.FieldError("/attr.", f"At most {models.MAX_ATTRIBUTES} filters"))
    if errors:
        raise problems.ValidationProblem(errors, detail="Bad query parameters")
    return plain, attributes


async def _search(request: web.Request, alias: str, body: dict[str, Any]) -> elastic.Response:
    try:
        return await request.app[ELASTIC].call("POST", f"/{alias}/_search", body)
    except elastic.Unavailable as error:
        raise problems.ServiceUnavailable(
            "Search is unavailable for now",
            retry_after=request.app[SETTINGS].unavailable_retry_after_s,
        ) from error


def _missing_index(response: elastic.Response) -> bool:
    error = response.body.get("error")
    return (
        response.status == 404
        and isinstance(error, dict)
        and error.get("type") == "index_not_found_exception"
    )


def _answered(response: elastic.Response) -> dict[str, Any]:
    if response.status != 200:
        raise problems.InternalError("The search could not be run")
    return response.body


async def search_products(request: web.Request) -> web.Response:
    caller = identity.of(request, needs=contracts.SEARCH_READ)
    plain, attributes = _split(request)
    params = payloads.parse(models.SearchQuery, plain)
    settings = request.app[SETTINGS]
    if params.page * params.size > settings.max_result_window:
        raise problems.ValidationProblem(
            [
                problems.FieldError(
                    "/page", f"page x size may not exceed {settings.max_result_window}"
                )
            ],
            detail="The page is too deep; narrow the search instead",
        )
    alias = indices.alias(settings.index_prefix, caller.tenant_id)
    response = await _search(request, alias, query.search_body(params, attributes))
    if _missing_index(response):
        return _json(query.empty_result(params))
    return _json(query.search_result(params, _answered(response)))


async def suggest(request: web.Request) -> web.Response:
    caller = identity.of(request, needs=contracts.SEARCH_READ)
    plain, attributes = _split(request)
    if attributes:
        raise problems.ValidationProblem(
            [problems.FieldError(f"/attr.{next(iter(attributes))}", "Not a suggest parameter")]
        )
    params = payloads.parse(models.SuggestQuery, plain)
    alias = indices.alias(request.app[SETTINGS].index_prefix, caller.tenant_id)
    response = await _search(request, alias, query.suggest_body(params))
    if _missing_index(response):
        return _json(models.SuggestResult(items=[]))
    return _json(query.suggest_result(_answered(response)))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/search/products", search_products)
    app.router.add_get("/v1/search/suggest", suggest)
