"""OpenAPI 3.1 descriptions built from the same pydantic models the handlers validate with.

A service lists its `Operation`s once; `document(...)` turns them into the JSON served at
`GET /openapi.json` (`route(app, ...)`), together with the routes every kit app serves (probes,
metrics, this document), so the description covers exactly what the app answers. Schemas come
from `pydantic.json_schema`, so the description cannot drift from validation. Every error answer
is problem+json; an operation takes the gateway's identity headers (`contracts.IDENTITY_HEADERS`)
unless it says otherwise (auth's), and names the scope its handler requires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pydantic
from aiohttp import web
from pydantic import json_schema

from meridian.core.runtime import problems
from meridian.services.kit import contracts

REF = "#/components/schemas/{model}"

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; `errors` names each wrong field (JSON pointers).",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}

IDENTITY_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": contracts.TENANT_HEADER,
        "in": "header",
        "description": "The caller's tenant as the gateway saw it, for logs: the service acts "
        "for the tenant of the internal token in `Authorization` (`identity`), never this header.",
        "schema": {"type": "string", "format": "uuid"},
    },
    {"name": contracts.SUBJECT_HEADER, "in": "header", "schema": {"type": "string"}},
    {"name": contracts.SCOPES_HEADER, "in": "header", "schema": {"type": "string"}},
]


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    operation_id: str
    summary: str
    request: type[pydantic.BaseModel] | None = None
    # status -> response model (JSON), None (problem+json or no body), with a description each.
    responses: Mapping[int, tuple[str, type[pydantic.BaseModel] | None]] = field(
        default_factory=dict
    )
    parameters: Sequence[Mapping[str, Any]] = ()
    identity: bool = True  # takes the gateway's identity headers (auth's own routes do not)
    scope: str | None = None  # what the handler's `identity.of(..., needs=)` requires
    security: str | None = None  # a security scheme's name, for routes a credential opens
    request_required: bool = True


def _problem(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Problem"}
    return {"description": description, "content": {problems.CONTENT_TYPE: {"schema": schema}}}


def _kit_paths(*, signs: bool) -> dict[str, dict[str, Any]]:
    probe = {"200": {"description": "OK"}, "503": _problem("Not ready, or draining")}
    plain = {"200": {"description": "OK"}}
    paths: dict[str, dict[str, Any]] = {
        "/healthz": {"get": {"operationId": "healthz", "summary": "Liveness", "responses": probe}},
        "/readyz": {"get": {"operationId": "readyz", "summary": "Readiness", "responses": probe}},
        "/metrics": {
            "get": {"operationId": "metrics", "summary": "Prometheus", "responses": plain}
        },
        "/openapi.json": {
            "get": {"operationId": "openapi", "summary": "This document", "responses": plain}
        },
    }
    if signs:  # `signing`: the keys of the internal tokens this service sends to its peers
        summary = "Public keys of this service's internal tokens"
        paths[contracts.JWKS_PATH] = {
            "get": {"operationId": "jwks", "summary": summary, "responses": plain}
        }
    return paths


def document(
    *,
    title: str,
    version: str,
    operations: Sequence[Operation],
    description: str = "",
    security_schemes: Mapping[str, Any] | None = None,
    signs: bool = False,
) -> dict[str, Any]:
    models: list[tuple[type[pydantic.BaseModel], json_schema.JsonSchemaMode]] = []
    for op in operations:
        if op.request is not None:
            models.append((op.request, "validation"))
        models.extend((model, "serialization") for _, model in op.responses.values() if model)
    refs, definitions = json_schema.models_json_schema(models, ref_template=REF)
    schemas = dict(definitions.get("$defs", {}))
    schemas["Problem"] = PROBLEM_SCHEMA
    paths: dict[str, dict[str, Any]] = _kit_paths(signs=signs)
    for op in operations:
        entry: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary}
        parameters = [*(IDENTITY_PARAMETERS if op.identity else []), *op.parameters]
        if parameters:
            entry["parameters"] = [dict(p) for p in parameters]
        if op.request is not None:
            entry["requestBody"] = {
                "required": op.request_required,
                "content": {"application/json": {"schema": refs[(op.request, "validation")]}},
            }
        responses: dict[str, Any] = {}
        for status, (description, model) in sorted(op.responses.items()):
            if model is not None:
                schema = refs[(model, "serialization")]
                content = {"application/json": {"schema": schema}}
                responses[str(status)] = {"description": description, "content": content}
            elif status >= 400:
                responses[str(status)] = _problem(description)
            else:
                responses[str(status)] = {"description": description}
        if op.identity:
            responses.setdefault(
                "401", _problem("No valid internal token (calls come from the gateway or a peer)")
            )
        if op.security is not None:
            entry["security"] = [{op.security: []}]
        if op.scope is not None:
            entry["x-meridian-scope"] = op.scope
            responses.setdefault("403", _problem(f"The token lacks the scope {op.scope}"))
        if op.request is not None:
            responses.setdefault("400", _problem("The body is not JSON"))
            responses.setdefault("413", _problem("The body is too large"))
            responses.setdefault("415", _problem("The body is not application/json"))
            responses.setdefault("422", _problem("A field is invalid; `errors` names it"))
        entry["responses"] = responses
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            **({"description": description} if description else {}),
        },
        "paths": paths,
        "components": {
            "schemas": schemas,
            **({"securitySchemes": dict(security_schemes)} if security_schemes else {}),
        },
    }


def route(app: web.Application, description: Mapping[str, Any]) -> None:
    """Serve `description` at GET /openapi.json."""

    async def handler(_request: web.Request) -> web.Response:
        return web.json_response(description)

    app.router.add_get("/openapi.json", handler)
