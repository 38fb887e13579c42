"""RFC 9457 problem details: the one shape every 4xx/5xx answer of every service takes.

Handlers raise a `Problem` subclass; `app`'s error middleware renders it as
`application/problem+json`. Field errors point into the request body with RFC 6901 JSON pointers
(`/items/0/quantity`), the form RFC 9457 itself suggests, so a client can map them back onto the
document it sent without guessing how we spell paths.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar, NamedTuple

import pydantic
from aiohttp import web

CONTENT_TYPE = "application/problem+json"


class FieldError(NamedTuple):
    field: str  # JSON pointer into the request body; "" is the whole document
    message: str


class Problem(Exception):
    """Base of every error a handler may raise; `status` and `title` are per class."""

    status: int = 500
    title: str = "Internal Server Error"
    type_: ClassVar[str] = "about:blank"

    def __init__(self, detail: str | None = None, **extensions: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail
        self.extensions = extensions
        self.extra_headers: dict[str, str] = {}

    def headers(self) -> dict[str, str]:
        return dict(self.extra_headers)

    def body(self, *, instance: str | None = None) -> dict[str, Any]:
        document: dict[str, Any] = {"type": self.type_, "title": self.title, "status": self.status}
        if self.detail:
            document["detail"] = self.detail
        if instance:
            document["instance"] = instance
        document.update(self.extensions)
        return document

    def response(self, *, instance: str | None = None) -> web.Response:
        return web.Response(
            status=self.status,
            text=json.dumps(self.body(instance=instance)),
            content_type=CONTENT_TYPE,
            headers=self.headers(),
        )


class BadRequest(Problem):
    status = 400
    title = "Bad Request"


class Unauthorized(Problem):
    status = 401
    title = "Unauthorized"


class Forbidden(Problem):
    status = 403
    title = "Forbidden"


class NotFound(Problem):
    status = 404
    title = "Not Found"


class MethodNotAllowed(Problem):
    status = 405
    title = "Method Not Allowed"


class Conflict(Problem):
    status = 409
    title = "Conflict"


class PayloadTooLarge(Problem):
    status = 413
    title = "Content Too Large"


class UnsupportedMediaType(Problem):
    status = 415
    title = "Unsupported Media Type"


class ValidationProblem(Problem):
    """422: the body parsed, but fields are wrong; `errors` names each one."""

    status = 422
    title = "Unprocessable Content"

    def __init__(self, errors: Iterable[FieldError], detail: str | None = None) -> None:
        self.errors = list(errors)
        super().__init__(
            detail or "The request body failed validation",
            errors=[e._asdict() for e in self.errors],
        )


class TooManyRequests(Problem):
    status = 429
    title = "Too Many Requests"

    def __init__(self, retry_after: float, detail: str | None = None) -> None:
        super().__init__(detail)
        # Retry-After is whole seconds; round up so a client that obeys it is never early.
        self.retry_after = max(1, int(-(-retry_after // 1)))

    def headers(self) -> dict[str, str]:
        return {**super().headers(), "Retry-After": str(self.retry_after)}


class InternalError(Problem):
    """What a client sees for an unhandled exception: no message, no traceback."""


class ServiceUnavailable(Problem):
    status = 503
    title = "Service Unavailable"

    def __init__(self, detail: str | None = None, retry_after: int | None = None, **ext: Any):
        super().__init__(detail, **ext)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        extra = {} if self.retry_after is None else {"Retry-After": str(self.retry_after)}
        return {**super().headers(), **extra}


def json_pointer(location: Sequence[int | str]) -> str:
    """RFC 6901: `("items", 0, "quantity")` -> `/items/0/quantity`."""
    return "".join("/" + str(part).replace("~", "~0").replace("/", "~1") for part in location)


def from_validation_error(error: pydantic.ValidationError) -> ValidationProblem:
    """One FieldError per pydantic error, located by JSON pointer; pydantic's URLs stay out."""
    return ValidationProblem(
        FieldError(json_pointer(e["loc"]), e["msg"]) for e in error.errors(include_url=False)
    )


_BY_STATUS: Mapping[int, type[Problem]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
    )
}


def from_http_exception(error: web.HTTPException) -> Problem:
    """aiohttp's own 4xx (unknown route, wrong method, body over client_max_size) as a Problem."""
    detail = None if error.text == f"{error.status}: {error.reason}" else error.text
    cls = _BY_STATUS.get(error.status)
    problem = cls(detail) if cls else Problem(detail)
    if cls is None:
        problem.status, problem.title = error.status, error.reason
    if "Allow" in error.headers:
        problem.extra_headers["Allow"] = error.headers["Allow"]
    return problem
