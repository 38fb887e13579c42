"""What every service reads from its environment, so each service only adds what is its own.

A service subclasses `ServiceSettings` and sets `env_prefix="MERIDIAN_<SERVICE>_"`; the kit's
factories (`app.run`, `db.create_pool`, `cache.create_client`, `messaging.connect`, `tracing`)
take the settings object, never loose arguments read from `os.environ`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from meridian.core import settings as core_settings


class ServiceSettings(core_settings.ProcessSettings):
    """Base of every service's settings; see the README table for the variables."""

    model_config = SettingsConfigDict(env_prefix="MERIDIAN_SERVICE_", extra="ignore", frozen=True)

    # The service's name in metrics, traces, logs, PostgreSQL's application_name and queue names.
    name: str = "service"
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)

    pg_dsn: SecretStr | None = None
    pg_pool_min: int = Field(default=1, ge=0)
    pg_pool_max: int = Field(default=10, ge=1)
    # A runaway query is cancelled by the server instead of holding a pool connection forever.
    statement_timeout_ms: int = Field(default=5_000, ge=0)

    redis_url: SecretStr | None = None
    redis_timeout_s: float = Field(default=1.0, gt=0)
    # After a failure, Redis is not tried again for `redis_retry_s` (`cache.RateLimiter`'s breaker).
    redis_retry_s: float = Field(default=1.0, gt=0)

    amqp_url: SecretStr | None = None
    amqp_prefetch: int = Field(default=16, ge=1)

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

    # Housekeeping (`housekeeping`), for services with an outbox and idempotency tables: how often
    # it runs, rows per delete, and how long published events and dedupe rows are kept.
    housekeeping_interval_s: float = Field(default=15.0, gt=0)
    housekeeping_batch: int = Field(default=1_000, ge=1)
    sent_event_retention_s: int = Field(default=24 * 3600, ge=0)
    processed_message_retention_s: int = Field(default=7 * 24 * 3600, ge=0)

    otel_exporter: Literal["none", "console"] = "none"
    otel_sample_ratio: float = Field(default=1.0, ge=0, le=1)
