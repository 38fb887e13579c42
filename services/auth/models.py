"""Auth's request and response bodies (pydantic): validation and the OpenAPI schemas both."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LoginRequest(Body):
    tenant: str = Field(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="The tenant's name (as in its Tenant resource).",
    )
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = Field(min_length=1, max_length=1024)


class RefreshRequest(Body):
    refresh_token: str = Field(min_length=1, max_length=512)


class RevokeRequest(Body):
    refresh_token: str | None = Field(
        default=None,
        max_length=512,
        description="Also end this refresh token's login (its whole rotation family).",
    )


class TokenResponse(Body):
    access_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int = Field(description="Seconds until the access token expires.")
    scope: str = Field(description="The token's scopes, space-separated.")


class LoginResponse(TokenResponse):
    refresh_token: str = Field(description="Single-use; POST it to /v1/auth/refresh.")
    refresh_expires_in: int


class Jwks(Body):
    keys: list[dict[str, Any]]
