"""The Tenant operator's connections to its peers, opened once at start-up and closed at exit.

PostgreSQL (the registry), Redis (gateway limits), Stripe and S3. kopf's startup handler opens
them (and migrates the registry); reconciles reach them through `current()`. Missing settings
stop the operator at start with the variable named, not at the first tenant.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import asyncpg
import boto3
import redis.asyncio as redis
import stripe
from botocore.config import Config as BotoConfig
from mypy_boto3_s3 import S3Client
from stripe._http_client import AIOHTTPClient

from meridian.core import migrations, registry
from meridian.operators.settings import OperatorSettings


@dataclass(frozen=True)
class Clients:
    settings: OperatorSettings
    pool: asyncpg.Pool
    redis: redis.Redis
    stripe: stripe.StripeClient
    stripe_http: AIOHTTPClient
    s3: S3Client

    @property
    def timeout(self) -> float:
        return self.settings.dependency_timeout_seconds


_CURRENT: list[Clients] = []


def current() -> Clients:
    if not _CURRENT:
        raise RuntimeError("the Tenant operator's clients are not open (startup did not run)")
    return _CURRENT[0]


def required(settings: OperatorSettings) -> tuple[str, str, str]:
    missing = [
        f"MERIDIAN_OPERATOR_{name.upper()}"
        for name in ("platform_db_dsn", "redis_url", "stripe_api_key")
        if getattr(settings, name) is None
    ]
    dsn, redis_url, stripe_key = (
        settings.platform_db_dsn,
        settings.redis_url,
        settings.stripe_api_key,
    )
    if missing or dsn is None or redis_url is None or stripe_key is None:
        raise SystemExit(f"the Tenant operator needs {', '.join(missing)}")
    return dsn.get_secret_value(), redis_url, stripe_key.get_secret_value()


async def open_clients(settings: OperatorSettings) -> Clients:
    dsn, redis_url, stripe_key = required(settings)
    if settings.migrate_on_start:
        await migrations.upgrade(dsn, registry.MIGRATIONS)
    timeout = settings.dependency_timeout_seconds
    pool = await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=10,
        timeout=timeout,
        command_timeout=timeout,
        server_settings={"application_name": "meridian-tenant-operator"},
    )
    boto: Any = boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint,
        region_name=settings.s3_region,
        config=BotoConfig(
            connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 2}
        ),
    )
    stripe_http = AIOHTTPClient(timeout=timeout)
    clients = Clients(
        settings=settings,
        pool=pool,
        redis=redis.from_url(redis_url, socket_timeout=timeout, socket_connect_timeout=timeout),
        stripe=stripe.StripeClient(
            stripe_key,
            base_addresses={"api": settings.stripe_api_base},
            http_client=stripe_http,
            # Our reconcile retries with backoff; the SDK's own retries would hide the outage.
            max_network_retries=0,
        ),
        stripe_http=stripe_http,
        s3=boto,
    )
    _CURRENT[:] = [clients]
    return clients


async def close_clients() -> None:
    if not _CURRENT:
        return
    clients = _CURRENT.pop()
    await clients.pool.close()
    await clients.redis.aclose()
    await clients.stripe_http.close_async()  # type: ignore[no-untyped-call]
    await asyncio.to_thread(clients.s3.close)
