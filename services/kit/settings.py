"""What every service reads from its environment, so each service only adds what is its own.

A service subclasses `ServiceSettings` and sets `env_prefix="MERIDIAN_<SERVICE>_"`. The server,
PostgreSQL and Redis groups come from the runtime (`meridian.core.runtime.settings`); what is
added here is the services' own plumbing: the broker and housekeeping of outbox and dedupe rows.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from meridian.core.runtime import settings as runtime_settings


class ServiceSettings(
    runtime_settings.ServerSettings,
    runtime_settings.PostgresSettings,
    runtime_settings.RedisSettings,
):
    """Base of every service's settings; see the README table for the variables."""

    model_config = SettingsConfigDict(env_prefix="MERIDIAN_SERVICE_", extra="ignore", frozen=True)

    name: str = "service"

    amqp_url: SecretStr | None = None
    amqp_prefetch: int = Field(default=16, ge=1)

    # Housekeeping (`housekeeping`), for services with an outbox and idempotency tables: how often
    # it runs, rows per delete, and how long published events and dedupe rows are kept.
    housekeeping_interval_s: float = Field(default=15.0, gt=0)
    housekeeping_batch: int = Field(default=1_000, ge=1)
    sent_event_retention_s: int = Field(default=24 * 3600, ge=0)
    processed_message_retention_s: int = Field(default=7 * 24 * 3600, ge=0)
