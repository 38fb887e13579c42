"""The gateway's OpenAPI description, served at GET /openapi.json: no paths of its own, since
every path is a service's (see each one's /openapi.json); what it adds is its errors."""

from __future__ import annotations

from typing import Any


def description() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Meridian gateway",
            "version": "1.0.0",
            "description": "Routes /v1/<service>/... to the services (see each one's /openapi.json) "
            "after checking the bearer JWT and the tenant's rate limit. Errors are problem+json: "
            "401 without a valid token, 429 with Retry-After; 503 with Retry-After when the upstream "
            "cannot be reached (nothing was sent), 502 when it broke off and 504 when it timed out "
            "(it may have acted: retry with the same Idempotency-Key).",
        },
        "paths": {},
    }
