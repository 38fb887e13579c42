"""What every service reads from its environment, so each service only adds what is its own.

A service's `settings.py` defines `class Settings(ServiceSettings, <mixins>)` with
`env_prefix="MERIDIAN_<SERVICE>_"`. `ServiceSettings` is the server, PostgreSQL and Redis groups
of the runtime (`meridian.core.runtime.settings`); the mixins below are the services' own
plumbing, taken only by the services that have it:

- `DatabaseSettings`: the service owns a database (its migrations, its row-level security role);
- `MessagingSettings`: it publishes events through the outbox (the broker, housekeeping of the
  outbox and dedupe rows);
- `ConsumerSettings`: it also consumes a queue (prefetch, the retry queue's delay).

`ServiceSettings` also holds `IdentitySettings`, since every service checks its callers' internal
tokens (`identity`) and the ones that call peers sign their own (`signing`).

Durations are in seconds and spelled `_s`, as everywhere in Meridian.
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


class DatabaseSettings(runtime_settings.PostgresSettings):
    """A service that owns its database (`pg_dsn`): schema from its `MIGRATIONS`, an RLS role."""

    # The NOLOGIN role (no BYPASSRLS) every tenant query takes, `db.tenant_connection(role=...)`;
    # the service's first migration creates it. Each service sets its own default.
    db_role: str
    # Apply pending migrations at start (replicas serialise on an advisory lock); false where a
    # Job migrates before the rollout.
    migrate_on_start: bool = True


class MessagingSettings(runtime_settings.ProcessSettings):
    """A service that publishes events through the outbox, and keeps its bookkeeping rows short."""

    amqp_url: SecretStr | None = None

    # Housekeeping (`housekeeping`) of the outbox and idempotency tables: how often it runs, rows
    # per delete, and how long published events and dedupe rows are kept.
    housekeeping_interval_s: float = Field(default=15.0, gt=0)
    housekeeping_batch: int = Field(default=1_000, ge=1)
    sent_event_retention_s: int = Field(default=24 * 3600, ge=0)
    processed_message_retention_s: int = Field(default=7 * 24 * 3600, ge=0)


class ConsumerSettings(MessagingSettings):
    """A service that also consumes a queue (`consumer`); the queue's name is its own setting."""

    # Unacknowledged deliveries the broker sends this consumer at once.
    amqp_prefetch: int = Field(default=16, ge=1)
    # How long a failed message waits in `<queue>.retry` before it is delivered again.
    retry_delay_s: float = Field(default=5.0, gt=0)
