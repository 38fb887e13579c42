"""Auth's OpenAPI 3.1 description, built from the pydantic models, served at `/openapi.json`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from meridian.services.auth import models
from meridian.services.kit import openapi as kit_openapi

REF = "#/components/schemas/{model}"

PROBLEM = kit_openapi.PROBLEM_SCHEMA


def _body(model: type[BaseModel]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": REF.format(model=model.__name__)}}}}


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}},
    }


def _post(
    summary: str,
    request: type[BaseModel] | None,
    response: type[BaseModel] | None,
    *,
    security: str | None = None,
    status: str = "200",
    throttled: bool = False,
) -> dict[str, Any]:
    responses: dict[str, Any] = {
        status: {"description": "OK", **(_body(response) if response else {})},
        "401": _problem("Not authenticated"),
        "403": _problem("Authenticated, but suspended or disabled"),
    }
    operation: dict[str, Any] = {"summary": summary, "responses": responses}
    if request is not None:
        operation["requestBody"] = {"required": security != "bearer", **_body(request)}
        responses.update(
            {
                "400": _problem("The body is not JSON"),
                "413": _problem("The body is too large"),
                "415": _problem("The body is not application/json"),
                "422": _problem("A field is invalid"),
            }
        )
    if throttled:
        responses["429"] = _problem("Too many attempts for this account; see Retry-After")
    if security is not None:
        operation["security"] = [{security: []}]
    return {"post": operation}


def document() -> dict[str, Any]:
    _, schemas = models_json_schema(
        [
            (model, "validation" if model.__name__.endswith("Request") else "serialization")
            for model in (
                models.LoginRequest,
                models.RefreshRequest,
                models.RevokeRequest,
                models.TokenResponse,
                models.LoginResponse,
                models.Jwks,
            )
        ],
        ref_template=REF,
    )
    components = {**schemas.get("$defs", {}), "Problem": PROBLEM}
    return {
        "openapi": "3.1.0",
        "info": {"title": "Meridian auth", "version": "1.0.0"},
        "paths": {
            "/v1/auth/login": _post(
                "A tenant's user logs in",
                models.LoginRequest,
                models.LoginResponse,
                throttled=True,
            ),
            "/v1/auth/refresh": _post(
                "Spend a refresh token for new tokens", models.RefreshRequest, models.LoginResponse
            ),
            "/v1/auth/token": _post(
                "Exchange an API key for an access token",
                None,
                models.TokenResponse,
                security="apiKey",
            ),
            "/v1/auth/revoke": _post(
                "Revoke the bearer's access token (and optionally a refresh token's login)",
                models.RevokeRequest,
                None,
                security="bearer",
                status="204",
            ),
            "/.well-known/jwks.json": {
                "get": {
                    "summary": "The public keys that verify access tokens",
                    "responses": {"200": {"description": "OK", **_body(models.Jwks)}},
                }
            },
        },
        "components": {
            "schemas": components,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "apiKey": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`ApiKey mrd_<prefix>_<secret>`",
                },
            },
        },
    }
