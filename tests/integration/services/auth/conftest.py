"""Auth on the real platform: its own fresh database per test, tenants in the shared registry."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import NamedTuple

import asyncpg
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from meridian.core import migrations
from meridian.core.registry import MIGRATIONS, apikeys, tenants
from meridian.core.registry.ratelimits import RateLimit
from meridian.localplatform import platform
from meridian.services.auth import users
from meridian.services.auth.app import create_app
from meridian.services.auth.passwords import Passwords
from meridian.services.auth.settings import Settings as AuthSettings
from tests import databases

# What the gateway's tests take from here (`import *`): the fixtures and their types.
__all__ = [
    "AuthClient",
    "MakeTenant",
    "MakeUser",
    "Tenant",
    "User",
    "auth",
    "auth_dsn",
    "auth_settings",
    "make_tenant",
    "make_user",
    "registry",
]

PASSWORD = "correct horse battery staple"


class Tenant(NamedTuple):
    id: uuid.UUID
    name: str
    api_key: apikeys.ApiKey


class User(NamedTuple):
    id: uuid.UUID
    tenant: Tenant
    email: str
    password: str


@pytest_asyncio.fixture
async def registry(local_platform: platform.PlatformState) -> AsyncIterator[asyncpg.Connection]:
    dsn = local_platform.postgres_info.dsn("meridian_platform")
    await migrations.upgrade(dsn, MIGRATIONS)
    conn = await asyncpg.connect(dsn)
    yield conn
    await conn.close()


@pytest_asyncio.fixture
async def auth_dsn(local_platform: platform.PlatformState) -> AsyncIterator[str]:
    """A fresh database per test: signing keys (and their rotation) are global within one."""
    async with databases.fresh(local_platform, "auth_t") as dsn:
        yield dsn


@pytest_asyncio.fixture
async def auth_settings(local_platform: platform.PlatformState, auth_dsn: str) -> AuthSettings:
    return AuthSettings(
        pg_dsn=auth_dsn,
        platform_dsn=local_platform.postgres_info.dsn("meridian_platform"),
        redis_url=local_platform.redis_url,
        port=0,
        key_activation_delay_s=0,
        signing_key_passphrase="integration-test-passphrase",
        # Cheaper argon2id than production's 64 MiB x 3, same algorithm and code path.
        argon2_time_cost=1,
        argon2_memory_kib=8_192,
        argon2_parallelism=1,
        pg_pool_max=4,
        platform_pool_max=4,
        # Every test logs in from 127.0.0.1: the per-address bucket is tested on its own.
        login_address_burst=100_000,
    )


MakeTenant = Callable[..., Awaitable[Tenant]]


@pytest_asyncio.fixture
async def make_tenant(registry: asyncpg.Connection) -> MakeTenant:
    async def make(
        *, state: tenants.TenantState = "active", rps: int = 50, burst: int = 100
    ) -> Tenant:
        name = f"t{uuid.uuid4().hex[:10]}"
        record = tenants.TenantRecord(
            name=name,
            tier="starter",
            region="us-east-1",
            display_name="",
            state=state,
            limits={},
            rate_limit=RateLimit(rps, burst),
        )
        tenant_id = await tenants.upsert(registry, record)
        key = apikeys.generate()
        await apikeys.ensure(
            registry, tenant_id, prefix=key.prefix, digest=key.digest, purpose="initial"
        )
        return Tenant(tenant_id, name, key)

    return make


MakeUser = Callable[..., Awaitable[User]]


@pytest_asyncio.fixture
async def make_user(
    auth_settings: AuthSettings, make_tenant: MakeTenant
) -> AsyncIterator[MakeUser]:
    from meridian.services.auth import registry as auth_registry

    await auth_registry.migrate(auth_settings)
    pool = await auth_registry.create_pool(auth_settings)
    passwords = Passwords(auth_settings)

    async def make(tenant: Tenant | None = None, scopes: list[str] | None = None) -> User:
        tenant = tenant or await make_tenant()
        email = f"u{uuid.uuid4().hex[:8]}@example.com"
        user_id = await users.create_user(
            pool,
            passwords,
            tenant=tenant.name,
            email=email,
            password=PASSWORD,
            scopes=scopes or ["orders:read", "orders:write"],
        )
        return User(user_id, tenant, email, PASSWORD)

    yield make
    await pool.close()


AuthClient = TestClient[web.Request, web.Application]


@pytest_asyncio.fixture
async def auth(auth_settings: AuthSettings) -> AsyncIterator[AuthClient]:
    async with TestClient(TestServer(create_app(auth_settings))) as client:
        yield client
