"""Fulfillment's OpenAPI 3.1 description, its schemas generated from the pydantic models.

Served at `GET /openapi.json`; a test checks that every route the app registers is described.
"""

from __future__ import annotations

import functools
from typing import Any

from aiohttp import web
from pydantic.json_schema import models_json_schema

from meridian.services import fulfillment
from meridian.services.fulfillment import models
from meridian.services.kit import contracts
from meridian.services.kit import openapi as kit_openapi

REF = "#/components/schemas/{model}"

_PROBLEM = kit_openapi.PROBLEM_SCHEMA


def _json(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF.format(model=schema)}}},
    }


def _problem(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": REF.format(model="Problem")}}},
    }


_TENANT = {
    "name": contracts.TENANT_HEADER,
    "in": "header",
    "required": True,
    "description": "Set by the gateway from the caller's token",
    "schema": {"type": "string", "format": "uuid"},
}
_PROBE = {"200": {"description": "OK"}, "503": _problem("Not ready, or draining")}


@functools.cache
def document() -> dict[str, Any]:
    _, schemas = models_json_schema(
        [(models.Shipment, "serialization"), (models.ShipmentList, "serialization")],
        ref_template=REF,
    )
    components = {**schemas.get("$defs", {}), "Problem": _PROBLEM}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Meridian fulfillment",
            "version": "1.0.0",
            "description": (fulfillment.__doc__ or "").strip(),
        },
        "paths": {
            "/v1/fulfillment/shipments": {
                "get": {
                    "operationId": "listShipments",
                    "summary": "The tenant's shipments, newest first, optionally of one order",
                    "parameters": [
                        _TENANT,
                        {
                            "name": "order_id",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "string", "format": "uuid"},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 200},
                        },
                    ],
                    "responses": {
                        "200": _json("ShipmentList", "The shipments"),
                        "401": _problem("No tenant identity"),
                        "422": _problem("A query parameter is invalid"),
                    },
                }
            },
            "/v1/fulfillment/shipments/{id}": {
                "get": {
                    "operationId": "getShipment",
                    "summary": "One shipment of the tenant",
                    "parameters": [
                        _TENANT,
                        {
                            "name": "id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                    ],
                    "responses": {
                        "200": _json("Shipment", "The shipment"),
                        "401": _problem("No tenant identity"),
                        "404": _problem("No such shipment (for this tenant)"),
                    },
                }
            },
            "/openapi.json": {
                "get": {"summary": "This document", "responses": {"200": {"description": "OK"}}}
            },
            "/healthz": {"get": {"summary": "Liveness", "responses": _PROBE}},
            "/readyz": {"get": {"summary": "Readiness", "responses": _PROBE}},
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics",
                    "responses": {"200": {"description": "OK"}},
                }
            },
        },
        "components": {"schemas": components},
    }


async def serve(_request: web.Request) -> web.Response:
    return web.json_response(document())
