"""The one way a Meridian process is configured: pydantic-settings classes read from MERIDIAN_* env.

A process's settings class subclasses `ProcessSettings` (and the groups below it needs) and sets
`env_prefix="MERIDIAN_<PROCESS>_"`; the runtime's factories (`app.run`, `db.pool_context`,
`cache.client_context`, `tracing`) take the settings object, never loose values read from
`os.environ`. Durations are in seconds and spelled `_s`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ProcessSettings(BaseSettings):
    """Base of every process's settings; subclasses set env_prefix MERIDIAN_<PROCESS>_."""

    model_config = SettingsConfigDict(env_prefix="MERIDIAN_", extra="ignore", frozen=True)

    # The process's name in metrics, traces, logs and PostgreSQL's application_name.
    name: str = "meridian"
    log_level: str = "INFO"
    log_json: bool = True


class ServerSettings(ProcessSettings):
    """An HTTP server built on `app.create`: where it listens, how much it takes, how it stops."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)

    # aiohttp's client_max_size: bodies above it are answered with 413 before a handler reads them.
    max_body_bytes: int = Field(default=1 << 20, ge=1)
    # Requests handled at once (probes aside); beyond it, 503 + Retry-After at once, so overload
    # shows as fast refusals a client retries rather than seconds of queueing for everyone.
    max_in_flight: int = Field(default=256, ge=1)

    # How long readiness reports "draining" before the listener closes (endpoints catch up), then
    # how long in-flight requests may take to finish.
    drain_delay_s: float = Field(default=0.0, ge=0)
    shutdown_timeout_s: float = Field(default=30.0, ge=0)
    readiness_timeout_s: float = Field(default=2.0, gt=0)

    otel_exporter: Literal["none", "console"] = "none"
    otel_sample_ratio: float = Field(default=1.0, ge=0, le=1)


class PostgresSettings(ProcessSettings):
    """A PostgreSQL pool built by `db.pool_context`."""

    pg_dsn: SecretStr | None = None
    pg_pool_min: int = Field(default=1, ge=0)
    pg_pool_max: int = Field(default=10, ge=1)
    # A runaway query is cancelled by the server instead of holding a pool connection forever.
    statement_timeout_ms: int = Field(default=5_000, ge=0)


class RedisSettings(ProcessSettings):
    """A Redis client built by `cache.client_context`."""

    redis_url: SecretStr | None = None
    redis_timeout_s: float = Field(default=1.0, gt=0)
    # After a failure, Redis is not tried again for `redis_retry_s` (`cache.RateLimiter`'s breaker).
    redis_retry_s: float = Field(default=1.0, gt=0)
