"""asyncpg pool settings and tenant_connection against real row-level security policies."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
import pytest_asyncio

from meridian.core.runtime import db

TENANT_A = uuid.UUID("aaaaaaaa-0000-4000-8000-000000000001")
TENANT_B = uuid.UUID("bbbbbbbb-0000-4000-8000-000000000002")


@pytest_asyncio.fixture
async def tenant_pool(orders_dsn: str, schema: str, suffix: str) -> AsyncIterator[db.Pool]:
    """A pool as a non-superuser role on a table with FORCE ROW LEVEL SECURITY."""
    role, password = f"svc_{suffix}", uuid.uuid4().hex
    admin = await asyncpg.connect(orders_dsn)
    try:
        await admin.execute(
            f"""
            CREATE ROLE {role} LOGIN PASSWORD '{password}';
            CREATE TABLE {schema}.items (tenant_id uuid NOT NULL, name text NOT NULL);
            ALTER TABLE {schema}.items ENABLE ROW LEVEL SECURITY;
            ALTER TABLE {schema}.items FORCE ROW LEVEL SECURITY;
            CREATE POLICY tenant_isolation ON {schema}.items
                USING (tenant_id = current_setting('{db.TENANT_SETTING}')::uuid)
                WITH CHECK (tenant_id = current_setting('{db.TENANT_SETTING}')::uuid);
            GRANT USAGE ON SCHEMA {schema} TO {role};
            GRANT SELECT, INSERT ON {schema}.items TO {role};
            """
        )
        parts = urlsplit(orders_dsn)
        netloc = f"{role}:{password}@{parts.hostname}:{parts.port}"
        dsn = urlunsplit(parts._replace(netloc=netloc, query=f"search_path={schema}"))
        pool = await db.create_pool(dsn, application_name="orders-test", min_size=1, max_size=1)
        try:
            yield pool
        finally:
            await pool.close()
            await admin.execute(f"DROP OWNED BY {role}; DROP ROLE {role}")
    finally:
        await admin.close()


async def test_tenant_sees_only_its_own_rows(tenant_pool: db.Pool) -> None:
    for tenant, name in ((TENANT_A, "a1"), (TENANT_A, "a2"), (TENANT_B, "b1")):
        async with db.tenant_connection(tenant_pool, tenant) as connection:
            await connection.execute("INSERT INTO items VALUES ($1, $2)", tenant, name)
    async with db.tenant_connection(tenant_pool, TENANT_A) as connection:
        names = [r["name"] for r in await connection.fetch("SELECT name FROM items ORDER BY 1")]
    assert names == ["a1", "a2"]
    async with db.tenant_connection(tenant_pool, TENANT_B) as connection:
        assert await connection.fetchval("SELECT count(*) FROM items") == 1


async def test_tenant_cannot_write_another_tenants_row(tenant_pool: db.Pool) -> None:
    with pytest.raises(asyncpg.InsufficientPrivilegeError, match="row-level security"):
        async with db.tenant_connection(tenant_pool, TENANT_A) as connection:
            await connection.execute("INSERT INTO items VALUES ($1, 'sneaky')", TENANT_B)


async def test_tenant_setting_does_not_outlive_the_transaction(tenant_pool: db.Pool) -> None:
    """The pool has one connection: the next user of it must not inherit tenant A."""
    async with db.tenant_connection(tenant_pool, TENANT_A) as connection:
        await connection.execute("INSERT INTO items VALUES ($1, 'a')", TENANT_A)
    async with tenant_pool.acquire() as connection:
        assert not await connection.fetchval(f"SELECT current_setting('{db.TENANT_SETTING}', true)")
        with pytest.raises(asyncpg.InvalidTextRepresentationError):
            await connection.fetch("SELECT * FROM items")


async def test_an_exception_rolls_back_and_the_connection_serves_the_next_tenant(
    tenant_pool: db.Pool,
) -> None:
    """The pool has one connection: after a failure inside, nothing was written, no transaction
    stays open, and the next caller gets its own tenant."""

    async def insert_then_fail() -> None:
        async with db.tenant_connection(tenant_pool, TENANT_A) as connection:
            await connection.execute("INSERT INTO items VALUES ($1, 'lost')", TENANT_A)
            raise RuntimeError("after the insert")

    with pytest.raises(RuntimeError, match="after the insert"):
        await insert_then_fail()
    async with db.tenant_connection(tenant_pool, TENANT_B) as connection:
        assert await connection.fetchval(f"SELECT current_setting('{db.TENANT_SETTING}')") == str(
            TENANT_B
        )
        await connection.execute("INSERT INTO items VALUES ($1, 'kept')", TENANT_B)
    async with db.tenant_connection(tenant_pool, TENANT_A) as connection:
        assert await connection.fetchval("SELECT count(*) FROM items") == 0
    async with tenant_pool.acquire() as connection:
        assert not connection.is_in_transaction()


async def test_tenant_id_must_be_a_uuid(tenant_pool: db.Pool) -> None:
    with pytest.raises(TypeError):
        async with db.tenant_connection(tenant_pool, "' OR true --"):  # type: ignore[arg-type]
            pass


async def test_pool_sets_application_name_and_statement_timeout(orders_dsn: str) -> None:
    pool = await db.create_pool(orders_dsn, application_name="orders", statement_timeout_ms=200)
    try:
        assert await pool.fetchval("SHOW application_name") == "orders"
        assert await pool.fetchval("SHOW statement_timeout") == "200ms"
        with pytest.raises(asyncpg.QueryCanceledError):
            await pool.execute("SELECT pg_sleep(2)")
        await db.ping(pool)
    finally:
        await pool.close()


async def test_role_makes_policies_bind_a_superuser_pool_for_the_transaction_only(
    pool: db.Pool, schema: str, suffix: str
) -> None:
    """Locally the DSN is a superuser (bypasses RLS); the app role taken per transaction is not."""
    role = f"svc_app_{suffix}"
    await pool.execute(
        f"""
        CREATE ROLE {role} NOLOGIN;
        CREATE TABLE {schema}.items (tenant_id uuid NOT NULL, name text NOT NULL);
        ALTER TABLE {schema}.items ENABLE ROW LEVEL SECURITY;
        ALTER TABLE {schema}.items FORCE ROW LEVEL SECURITY;
        CREATE POLICY tenant_isolation ON {schema}.items
            USING (tenant_id = nullif(current_setting('{db.TENANT_SETTING}', true), '')::uuid);
        GRANT USAGE ON SCHEMA {schema} TO {role};
        GRANT SELECT, INSERT ON {schema}.items TO {role};
        INSERT INTO {schema}.items VALUES ('{TENANT_A}', 'a'), ('{TENANT_B}', 'b');
        """
    )
    try:
        async with db.tenant_connection(pool, TENANT_A) as connection:
            assert await connection.fetchval("SELECT count(*) FROM items") == 2  # bypassed
        async with db.tenant_connection(pool, TENANT_A, role=role) as connection:
            assert await connection.fetchval("SELECT current_user") == role
            assert [r["name"] for r in await connection.fetch("SELECT name FROM items")] == ["a"]
        assert await pool.fetchval("SELECT current_user") != role
    finally:
        await pool.execute(f"DROP TABLE {schema}.items; DROP OWNED BY {role}; DROP ROLE {role}")
