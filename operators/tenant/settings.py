"""Settings of the Tenant operator alone (`MERIDIAN_OPERATOR_TENANT_*`).

Its PostgreSQL and Redis settings are the runtime's groups, the same the services compose
(`_PG_DSN`, `_PG_POOL_MAX`, `_REDIS_URL`...). Unset required peers stop the operator at start
with the variable named (see `clients.required`); the other operators never read any of this.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from meridian.core.runtime.settings import PostgresSettings, RedisSettings


class TenantSettings(PostgresSettings, RedisSettings):
    model_config = SettingsConfigDict(
        env_prefix="MERIDIAN_OPERATOR_TENANT_", extra="ignore", frozen=True
    )

    name: str = "meridian-tenant-operator"
    """PostgreSQL's application_name of its pool."""
    # pg_dsn: the `meridian_platform` database (the registry).
    statement_timeout_ms: int = 10_000
    redis_timeout_s: float = 10.0
    """Redis where the gateway reads rate limits (`redis_url`); every command's timeout."""
    migrate_on_start: bool = True
    """Bring the registry schema to the newest revision at start-up (advisory-locked)."""
    stripe_api_key: SecretStr | None = None
    stripe_api_base: str = "https://api.stripe.com"
    """Stripe's API; the local platform points it at stripe-mock."""
    s3_endpoint: str | None = None
    """S3-compatible endpoint; unset means AWS S3 itself."""
    s3_region: str = "us-east-1"
    backup_bucket: str = "meridian-backups"
    """Where offboarding with deletionPolicy Retain exports a tenant's rows."""
    elasticsearch_url: str | None = None
    """Elasticsearch of the search service: the tenant's product index is provisioned there
    (SearchReady) and deleted at offboarding. Unset: the platform has no search, no such step."""
    search_index_prefix: str = Field(default="products", pattern=r"^[a-z][a-z0-9-]*$")
    """Must equal the search service's `MERIDIAN_SEARCH_INDEX_PREFIX`: `<prefix>-<tenant id>`."""
    dependency_timeout_s: float = 10.0
    """Timeout of connecting to PostgreSQL and of every call to Stripe, S3 and Elasticsearch from
    a reconcile."""
    gateway_namespace: str = "meridian-prod"
    """Namespace of the gateway's pods: the tenant's NetworkPolicy lets them in (8080, 9090)."""
    monitoring_namespace: str = "monitoring"
    """Namespace of Prometheus: the tenant's NetworkPolicy lets it scrape 8080."""
