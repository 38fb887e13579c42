"""The platform registry on real PostgreSQL: migrations, and row-level security by tenant."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest_asyncio

from meridian.core import migrations
from meridian.core.registry import MIGRATIONS, apikeys, connection, tenants
from meridian.core.registry.ratelimits import RateLimit
from meridian.localplatform import platform


@pytest_asyncio.fixture(loop_scope="session")
async def registry(local_platform: platform.PlatformState) -> AsyncIterator[asyncpg.Connection]:
    dsn = local_platform.postgres_info.dsn("meridian_platform")
    await migrations.upgrade(dsn, MIGRATIONS)
    conn = await asyncpg.connect(dsn)
    yield conn
    await conn.close()


def record(name: str) -> tenants.TenantRecord:
    return tenants.TenantRecord(
        name=name,
        tier="starter",
        region="us-east-1",
        display_name="",
        state="active",
        limits={"pods": 20},
        rate_limit=RateLimit(50, 100),
    )


async def test_migrating_twice_is_a_no_op_at_head(local_platform: platform.PlatformState) -> None:
    dsn = local_platform.postgres_info.dsn("meridian_platform")
    assert await migrations.upgrade(dsn, MIGRATIONS) == migrations.head(MIGRATIONS)
    assert await migrations.upgrade(dsn, MIGRATIONS) == migrations.head(MIGRATIONS)


async def test_upsert_returns_the_same_id_and_does_not_rewrite_an_unchanged_row(
    registry: asyncpg.Connection,
) -> None:
    name = f"r{uuid.uuid4().hex[:8]}"
    first = await tenants.upsert(registry, record(name))
    before = await registry.fetchval("SELECT xmin::text FROM platform.tenants WHERE id = $1", first)
    assert await tenants.upsert(registry, record(name)) == first
    after = await registry.fetchval("SELECT xmin::text FROM platform.tenants WHERE id = $1", first)
    assert before == after


async def test_services_role_sees_only_its_own_tenants_rows(registry: asyncpg.Connection) -> None:
    """As meridian_app (no BYPASSRLS), tenant A's setting shows A's key and never B's."""
    a = await tenants.upsert(registry, record(f"a{uuid.uuid4().hex[:8]}"))
    b = await tenants.upsert(registry, record(f"b{uuid.uuid4().hex[:8]}"))
    key_a, key_b = apikeys.generate(), apikeys.generate()
    for tenant_id, key in ((a, key_a), (b, key_b)):
        await apikeys.ensure(
            registry, tenant_id, prefix=key.prefix, digest=key.digest, purpose="initial"
        )
    async with registry.transaction():
        await registry.execute("SET LOCAL ROLE meridian_app")
        await registry.execute("SELECT set_config('meridian.tenant_id', $1, true)", str(a))
        visible = await registry.fetch("SELECT tenant_id, prefix FROM platform.api_keys")
        tenants_visible = await registry.fetch("SELECT id FROM platform.tenants")
        found = await registry.fetchrow("SELECT * FROM platform.find_api_key($1)", key_b.prefix)
    assert [(row["tenant_id"], row["prefix"]) for row in visible] == [(a, key_a.prefix)]
    assert [row["id"] for row in tenants_visible] == [a]
    # Authentication crosses tenants only through the narrow lookup by public prefix.
    assert found is not None
    assert found["tenant_id"] == b
    assert apikeys.matches(apikeys.parse(key_b.token), bytes(found["secret_sha256"]))


async def test_suspension_round_trip_leaves_revoked_keys_revoked(
    registry: asyncpg.Connection,
) -> None:
    tenant_id = await tenants.upsert(registry, record(f"s{uuid.uuid4().hex[:8]}"))
    keep, revoked = apikeys.generate(), apikeys.generate()
    for key in (keep, revoked):
        await apikeys.ensure(registry, tenant_id, prefix=key.prefix, digest=key.digest, purpose="x")
    await apikeys.revoke(registry, tenant_id, keep=keep.prefix)
    assert await apikeys.set_suspended(registry, tenant_id, True) == 1
    assert await apikeys.set_suspended(registry, tenant_id, False) == 1
    states = {row["prefix"]: row["state"] for row in await apikeys.keys_of(registry, tenant_id)}
    assert states == {keep.prefix: "active", revoked.prefix: "revoked"}


async def test_the_services_reads_see_the_named_tenant_only(registry: asyncpg.Connection) -> None:
    """As APP_ROLE with tenant A set, A's limit and state are read, B's are not there."""
    a = await tenants.upsert(registry, record(f"a{uuid.uuid4().hex[:8]}"))
    b = await tenants.upsert(registry, record(f"b{uuid.uuid4().hex[:8]}"))
    key_b = apikeys.generate()
    await apikeys.ensure(registry, b, prefix=key_b.prefix, digest=key_b.digest, purpose="initial")
    async with registry.transaction():
        await registry.execute(f"SET LOCAL ROLE {connection.APP_ROLE}")
        await registry.execute("SELECT set_config('meridian.tenant_id', $1, true)", str(a))
        assert await tenants.rate_limit(registry, a) == RateLimit(50, 100)
        assert await tenants.state_of(registry, a) == "active"
        assert await tenants.rate_limit(registry, b) is None
        assert await tenants.state_of(registry, b) is None
        found = await apikeys.find(registry, key_b.prefix)  # crosses tenants by public prefix
    assert found == apikeys.FoundKey(b, key_b.digest, "active", "active")


async def test_a_tenant_is_registered_only_once_migrated_and_written(
    local_platform: platform.PlatformState,
) -> None:
    """The local platform's wait: an unmigrated registry answers False instead of failing."""
    name = f"reg_t_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(local_platform.postgres_info.dsn("meridian_platform"))
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        dsn = local_platform.postgres_info.dsn(name)
        conn = await asyncpg.connect(dsn)
        try:
            assert not await tenants.is_registered(conn, "acme")
            await migrations.upgrade(dsn, MIGRATIONS)
            assert not await tenants.is_registered(conn, "acme")
            await tenants.upsert(conn, record("acme"))
            assert await tenants.is_registered(conn, "acme")
        finally:
            await conn.close()
        await admin.execute(f"DROP DATABASE {name} WITH (FORCE)")
    finally:
        await admin.close()
