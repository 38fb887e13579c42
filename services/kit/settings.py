"""What every service reads from its environment, so each service only adds what is its own.

A service subclasses `ServiceSettings` and sets `env_prefix="MERIDIAN_<SERVICE>_"`. The server,
PostgreSQL and Redis groups come from the runtime (`meridian.core.runtime.settings`); what is
added here is the services' own plumbing: the broker and housekeeping of outbox and dedupe rows.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, HttpUrl, SecretStr
from pydantic_settings import SettingsConfigDict

from meridian.core.runtime import settings as runtime_settings


class IdentitySettings(runtime_settings.ProcessSettings):
    """Who may call the service, and how it proves itself to the peers it calls (`identity`)."""

    # Issuers whose internal tokens this service takes, each with the URL of its JWKS, e.g.
    # {"meridian-gateway": "http://gateway:8080/.well-known/jwks.json"}. Fetched on first use and
    # on an unknown kid (at most every `identity_jwks_min_refresh_s`), dropped keys every max age.
    identity_issuers: dict[str, HttpUrl] = Field(default_factory=dict)
    identity_jwks_min_refresh_s: float = Field(default=10.0, ge=0)
    identity_jwks_max_age_s: float = Field(default=300.0, gt=0)
    identity_clock_skew_s: int = Field(default=5, ge=0, le=60)
    # A service that calls peers: its RSA key(s), PKCS#8 PEM, from a Secret mounted as a file
    # (never in git or an image); the first signs, all are published at /.well-known/jwks.json.
    identity_signing_key_file: Path | None = None
    identity_token_ttl_s: int = Field(default=60, ge=5, le=300)


class ServiceSettings(
    IdentitySettings,
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
