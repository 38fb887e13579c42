"""The one way a handler turns a request body into a pydantic model, or into the right 4xx.

415 for a body that is not JSON by its Content-Type, 413 over the app's `max_body_bytes`, 400 for
bytes that do not parse, 422 naming every wrong field. Handlers never catch these themselves.
"""

from __future__ import annotations

import json
from typing import TypeVar

import pydantic
from aiohttp import web

from meridian.services.kit import problems

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
    try:
        return model.model_validate(document)
    except pydantic.ValidationError as error:
        raise problems.from_validation_error(error) from error
