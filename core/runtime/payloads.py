"""The one way a handler turns a request body, or its path and query, into a pydantic model or
into the right 4xx.

415 for a body that is not JSON by its Content-Type, 413 over the app's `max_body_bytes`, 400 for
bytes that do not parse, 422 naming every wrong field. Handlers never catch these themselves.
A NUL character is refused (422 naming the field) wherever it is: PostgreSQL cannot store it in
text, so letting one through turns a client's mistake into a 500 at the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any, TypeVar

import pydantic
from aiohttp import web

from meridian.core.runtime import problems

Model = TypeVar("Model", bound=pydantic.BaseModel)

JSON_TYPES = frozenset({"application/json", "application/merge-patch+json"})


async def read_json(request: web.Request, model: type[Model]) -> Model:
    if request.content_type not in JSON_TYPES:
        raise problems.UnsupportedMediaType(
            f"Expected Content-Type application/json, got {request.content_type or 'none'}"
        )
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as error:
        raise problems.PayloadTooLarge(
            f"The body exceeds {request.client_max_size} bytes"
        ) from error
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise problems.BadRequest(f"The body is not valid JSON: {error}") from error
    if b"\\u0000" in raw:  # JSON escapes NUL; a cheap test before walking the document
        _refuse_nul(_nul_fields(document, ()))
    return _validate(model, document)


def parse(model: type[Model], values: Mapping[str, str]) -> Model:
    """Path or query parameters (`request.match_info`, `request.query`) as a model."""
    _refuse_nul(((name,) for name, value in values.items() if "\x00" in value))
    return _validate(model, dict(values))


def _validate(model: type[Model], document: Any) -> Model:
    try:
        return model.model_validate(document)
    except pydantic.ValidationError as error:
        raise problems.from_validation_error(error) from error


def _nul_fields(value: Any, location: tuple[str | int, ...]) -> Iterator[tuple[str | int, ...]]:
    if isinstance(value, str):
        if "\x00" in value:
            yield location
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                yield (*location, key)
            yield from _nul_fields(item, (*location, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _nul_fields(item, (*location, index))


def _refuse_nul(locations: Iterable[tuple[str | int, ...]]) -> None:
    errors = [
        problems.FieldError(problems.json_pointer(location), "must not contain a NUL character")
        for location in locations
    ]
    if errors:
        raise problems.ValidationProblem(errors)
