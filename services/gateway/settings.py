"""The gateway's settings: `MERIDIAN_GATEWAY_*` (plus the kit's: REDIS_URL, PG_DSN, PORT...)."""

from __future__ import annotations

from typing import Annotated, Any

from aiohttp import web
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, HttpUrl
from pydantic_settings import SettingsConfigDict

from meridian.core.api.v1alpha1 import tenant as tenant_api
from meridian.services.kit import contracts
from meridian.services.kit.settings import ServiceSettings

DEFAULT_TIER = tenant_api.TIERS["starter"]


class Upstream(BaseModel):
    """Where a path prefix goes; in `MERIDIAN_GATEWAY_ROUTES` a bare URL string is accepted too."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: HttpUrl
    timeout_s: float | None = Field(default=None, gt=0, description="Default: upstream_timeout_s")
    public: bool | None = Field(default=None, description="Default: prefix in public_prefixes")
    audience: str | None = Field(
        default=None,
        description="The service's name, the audience of the internal token the gateway signs "
        "for each request (default: the prefix's last segment, `orders` for /v1/orders)",
    )


def _upstream(value: Any) -> Any:
    return {"url": value} if isinstance(value, str) else value


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MERIDIAN_GATEWAY_", extra="ignore", frozen=True)

    name: str = "gateway"
    # JSON: {"/v1/auth": "http://127.0.0.1:8081", "/v1/orders": {"url": "...", "timeout_s": 5}}.
    # The longest matching prefix wins; a prefix matches whole path segments only.
    routes: dict[str, Annotated[Upstream, BeforeValidator(_upstream)]] = Field(default_factory=dict)
    # Prefixes served without a token (auth authenticates those requests itself).
    public_prefixes: list[str] = Field(default_factory=lambda: ["/v1/auth"])
    # In a cluster: the Gateway whose HTTPRoutes this gateway honours (`httproutes`), read again
    # every `httproute_refresh_s`; unset, only `routes` apply.
    gateway_name: str | None = None
    gateway_namespace: str = "meridian-system"
    httproute_refresh_s: float = Field(default=1.0, gt=0)
    upstream_timeout_s: float = Field(default=10.0, gt=0)
    upstream_connect_timeout_s: float = Field(default=2.0, gt=0)
    upstream_connections: int = Field(default=200, ge=1)

    # Auth's JWKS: fetched at start, every `jwks_max_age_s`, and on an unknown kid at most once
    # every `jwks_min_refresh_s` (a flood of forged kids cannot turn into a flood of fetches).
    jwks_url: HttpUrl | None = None
    issuer: str = "meridian-auth"
    jwks_min_refresh_s: float = Field(default=10.0, ge=0)
    jwks_max_age_s: float = Field(default=300.0, gt=0)
    clock_skew_s: int = Field(default=5, ge=0, le=60)

    # Rate limits: the tenant's (Redis hash published by the Tenant operator; on a miss the
    # registry row, `pg_dsn` = meridian_platform) kept in process for `limit_cache_s`; the
    # starter tier's for a tenant the registry does not know.
    default_rate_limit_rps: int = Field(default=DEFAULT_TIER.requests_per_second, ge=1)
    default_rate_limit_burst: int = Field(default=DEFAULT_TIER.burst, ge=1)
    limit_cache_s: float = Field(default=5.0, ge=0)
    # Redis on the hot path: a short timeout (and, as every service, no new attempt for
    # `redis_retry_s` after a failure: requests pass unlimited meanwhile; one probe then decides).
    redis_timeout_s: float = Field(default=0.25, gt=0)

    # Usage metering (`metering`): counted in process, flushed to billing through Redis as
    # batches kept until billing acknowledges them (resent meanwhile); off for benchmarks only.
    metering: bool = True
    usage_flush_interval_s: float = Field(default=1.0, gt=0)
    usage_resend_after_s: float = Field(default=10.0, gt=0)
    usage_drain_s: float = Field(default=5.0, ge=0)
    usage_stream_maxlen: int = Field(default=100_000, ge=1)
    usage_stream: str = contracts.USAGE_STREAM


SETTINGS = web.AppKey("settings", Settings)
"""This service's settings in its app, typed as its own class: handlers need no downcast."""
