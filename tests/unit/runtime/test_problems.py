"""problem+json: each Problem's status, headers and body, and pydantic errors as JSON pointers."""

from __future__ import annotations

import json

import pydantic
import pytest
from aiohttp import web

from meridian.core.runtime import problems


class Item(pydantic.BaseModel):
    sku: str
    quantity: int = pydantic.Field(gt=0)


class Order(pydantic.BaseModel):
    items: list[Item]


def test_validation_error_names_each_field_by_json_pointer() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        Order.model_validate({"items": [{"sku": "a", "quantity": 1}, {"quantity": 0}]})
    problem = problems.from_validation_error(caught.value)
    assert problem.status == 422
    fields = [error["field"] for error in problem.body()["errors"]]
    assert fields == ["/items/1/sku", "/items/1/quantity"]
    assert all(error["message"] for error in problem.body()["errors"])


def test_json_pointer_escapes_slash_and_tilde() -> None:
    assert problems.json_pointer(("a/b", "c~d", 0)) == "/a~1b/c~0d/0"
    assert problems.json_pointer(()) == ""


def test_problem_response_is_problem_json_with_instance() -> None:
    response = problems.NotFound("No order 42").response(instance="/orders/42")
    assert response.status == 404
    assert response.content_type == problems.CONTENT_TYPE
    assert response.text is not None
    assert json.loads(response.text) == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "No order 42",
        "instance": "/orders/42",
    }


@pytest.mark.parametrize(("seconds", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2"), (30, "30")])
def test_too_many_requests_rounds_retry_after_up(seconds: float, header: str) -> None:
    assert problems.TooManyRequests(seconds).headers() == {"Retry-After": header}


def test_service_unavailable_carries_optional_retry_after() -> None:
    assert problems.ServiceUnavailable("down").headers() == {}
    assert problems.ServiceUnavailable("down", retry_after=5).headers() == {"Retry-After": "5"}


def test_aiohttp_method_not_allowed_keeps_its_allow_header() -> None:
    problem = problems.from_http_exception(web.HTTPMethodNotAllowed("DELETE", ["GET", "POST"]))
    assert problem.status == 405
    assert problem.headers() == {"Allow": "GET,POST"}


def test_unknown_aiohttp_status_keeps_its_status_and_reason() -> None:
    problem = problems.from_http_exception(web.HTTPGone())
    assert (problem.status, problem.title) == (410, "Gone")
    assert problem.body() == {"type": "about:blank", "title": "Gone", "status": 410}
