"""Auth's OpenAPI 3.1 description, served at `/openapi.json`. Its routes are where credentials
are presented, so they take no identity headers; the token and revoke routes name the credential
(security scheme) they take instead."""

from __future__ import annotations

from typing import Any

from meridian.services.auth import models
from meridian.services.kit import contracts, openapi

SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "`ApiKey mrd_<prefix>_<secret>`",
    },
}
REFUSED = {
    401: ("Not authenticated (the same answer whatever was wrong)", None),
    403: ("Authenticated, but the tenant is suspended or the user or key disabled", None),
}

OPERATIONS = (
    openapi.Operation(
        "POST",
        "/v1/auth/login",
        "login",
        "A tenant's user logs in",
        identity=False,
        request=models.LoginRequest,
        responses={
            200: ("Access and refresh tokens", models.LoginResponse),
            **REFUSED,
            429: ("Too many attempts for this account; see Retry-After", None),
        },
    ),
    openapi.Operation(
        "POST",
        "/v1/auth/refresh",
        "refresh",
        "Spend a refresh token for new tokens",
        identity=False,
        request=models.RefreshRequest,
        responses={200: ("New access and refresh tokens", models.LoginResponse), **REFUSED},
    ),
    openapi.Operation(
        "POST",
        "/v1/auth/token",
        "apiKeyToken",
        "Exchange an API key for an access token",
        identity=False,
        security="apiKey",
        responses={200: ("An access token", models.TokenResponse), **REFUSED},
    ),
    openapi.Operation(
        "POST",
        "/v1/auth/revoke",
        "revoke",
        "Revoke the bearer's access token (and optionally a refresh token's login)",
        identity=False,
        security="bearer",
        request=models.RevokeRequest,
        request_required=False,
        responses={204: ("Revoked", None), 401: REFUSED[401]},
    ),
    openapi.Operation(
        "GET",
        contracts.JWKS_PATH,
        "jwks",
        "The public keys that verify access tokens",
        identity=False,
        responses={200: ("The JSON Web Key Set", models.Jwks)},
    ),
)


def description() -> dict[str, Any]:
    return openapi.document(
        title="Meridian auth",
        version="1.0.0",
        operations=OPERATIONS,
        security_schemes=SECURITY_SCHEMES,
    )
