"""Settings of the operator process (`meridian operator run`), from MERIDIAN_OPERATOR_* variables."""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from meridian.core.runtime.settings import ProcessSettings


class OperatorSettings(ProcessSettings):
    model_config = SettingsConfigDict(env_prefix="MERIDIAN_OPERATOR_", extra="ignore", frozen=True)

    health_host: str = "127.0.0.1"
    """Address of the liveness endpoint; the chart sets 0.0.0.0 so the kubelet can probe it."""
    health_port: int = 8080
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 8081
    peering_name: str = "meridian"
    """ClusterKopfPeering through which replicas elect the one active operator."""
    resync_seconds: float = 60.0
    """Level-triggered resync: every object is reconciled from current state at this interval."""

    # The Tenant operator's peers. Unset means "not configured": the Tenant operator refuses to
    # start and names the variable; the other operators never read them.
    platform_db_dsn: SecretStr | None = None
    """PostgreSQL DSN of the `meridian_platform` database (the registry)."""
    migrate_on_start: bool = True
    """Bring the registry schema to the newest revision at start-up (advisory-locked)."""
    redis_url: str | None = None
    """Redis where the gateway reads rate limits."""
    stripe_api_key: SecretStr | None = None
    stripe_api_base: str = "https://api.stripe.com"
    """Stripe's API; the local platform points it at stripe-mock."""
    s3_endpoint: str | None = None
    """S3-compatible endpoint; unset means AWS S3 itself."""
    s3_region: str = "us-east-1"
    backup_bucket: str = "meridian-backups"
    """Where offboarding with deletionPolicy Retain exports a tenant's rows."""
    dependency_timeout_seconds: float = 10.0
    """Timeout of every call to PostgreSQL, Redis, Stripe and S3 from a reconcile."""
