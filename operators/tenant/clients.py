"""The Tenant operator's connections to its peers, opened once at start-up and closed at exit.

PostgreSQL (the registry) and Redis (gateway limits) through the runtime's own helpers, the same
pool and client the services use; Stripe over the runtime's HTTP client session (trace headers
included), and Elasticsearch over the same session; S3 through boto3. The machinery opens them in kopf's startup (after migrating the
registry) and hands them to every reconcile as `Request.clients`. Missing settings stop the
operator at start with the variable named, not at the first tenant.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import aiohttp
import boto3
import redis.asyncio as redis
import stripe
from botocore.config import Config as BotoConfig
from mypy_boto3_s3 import S3Client

from meridian.core import migrations, registry
from meridian.core.api.v1alpha1 import tenant
from meridian.core.runtime import cache, client, db
from meridian.core.search import elastic
from meridian.operators.machinery import reconciler
from meridian.operators.tenant.settings import TenantSettings


@dataclass(frozen=True)
class Clients:
    settings: TenantSettings
    pool: db.Pool
    redis: redis.Redis
    stripe: stripe.StripeClient
    http: aiohttp.ClientSession
    """The session Stripe's SDK sends through (ours to close)."""
    s3: S3Client
    elastic: elastic.Elastic | None
    """Over `http` too; None when the platform has no Elasticsearch (no search step)."""


Request = reconciler.Request[tenant.TenantSpec, Clients]
"""What the Tenant operator's reconcile and finalizer get: the spec, the status, these clients."""


def required(settings: TenantSettings) -> tuple[str, str, str]:
    """(PostgreSQL DSN, Redis URL, Stripe key), or SystemExit naming every unset variable."""
    prefix = settings.model_config.get("env_prefix", "")
    values = {
        "pg_dsn": settings.pg_dsn,
        "redis_url": settings.redis_url,
        "stripe_api_key": settings.stripe_api_key,
    }
    missing = [f"{prefix}{name.upper()}" for name, value in values.items() if value is None]
    if missing:
        raise SystemExit(f"the Tenant operator needs {', '.join(missing)}")
    dsn, redis_url, stripe_key = (
        value.get_secret_value() for value in values.values() if value is not None
    )
    return dsn, redis_url, stripe_key


async def open_clients(settings: TenantSettings) -> Clients:
    dsn, redis_url, stripe_key = required(settings)
    if settings.migrate_on_start:
        await migrations.upgrade(dsn, registry.MIGRATIONS)
    timeout = settings.dependency_timeout_s
    pool = await db.open_pool(settings, connect_timeout_s=timeout)
    boto: Any = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        region_name=settings.s3_region,
        config=BotoConfig(
            connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 2}
        ),
    )
    http = client.create_session(total=timeout, connect=timeout)
    return Clients(
        settings=settings,
        pool=pool,
        redis=cache.create_client(redis_url, timeout=settings.redis_timeout_s),
        stripe=stripe.StripeClient(
            stripe_key,
            base_addresses={"api": settings.stripe_api_base},
            http_client=stripe.AIOHTTPClient(session=http, timeout=http.timeout),
            # Our reconcile retries with backoff; the SDK's own retries would hide the outage.
            max_network_retries=0,
        ),
        http=http,
        s3=boto,
        elastic=None
        if settings.elasticsearch_url is None
        else elastic.Elastic(http, settings.elasticsearch_url, timeout_s=timeout),
    )


async def close_clients(clients: Clients) -> None:
    await clients.pool.close()
    await clients.redis.aclose()
    await clients.http.close()
    await asyncio.to_thread(clients.s3.close)
