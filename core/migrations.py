"""The one way a Meridian database schema moves forward: alembic, programmatically, async.

Each database has one migration folder (an alembic script location with the shared `env.py`
shape: it takes the connection handed over here). Forward-only: `downgrade` raises, a fix is a
new revision. Concurrent callers (two replicas starting) serialise on an advisory lock per
folder, and the loser finds nothing left to do. Callers: the Tenant operator at start (the
registry, `core/registry/migrations`), each service at start (`services/<name>/migrations`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from alembic import command, op, script
from alembic.config import Config
from alembic.runtime import migration
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool


def _config(migrations: Path, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.attributes["connection"] = connection
    return config


def _lock_key(migrations: Path) -> int:
    """A stable advisory-lock id per migration folder (signed 64-bit, as PostgreSQL wants)."""
    digest = hashlib.sha256(migrations.resolve().as_posix().encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def head(migrations: Path) -> str:
    revision = script.ScriptDirectory.from_config(_config(migrations)).get_current_head()
    assert revision is not None
    return revision


def sqlalchemy_url(dsn: str) -> str:
    """`postgresql://...` as every process configures it, spelled for SQLAlchemy's asyncpg driver."""
    return "postgresql+asyncpg://" + dsn.split("://", 1)[1]


async def upgrade(dsn: str, migrations: Path) -> str | None:
    """Apply every pending revision; returns the revision the database is at afterwards."""

    def run(connection: Connection) -> str | None:
        command.upgrade(_config(migrations, connection), "head")
        return migration.MigrationContext.configure(connection).get_current_revision()

    engine = create_async_engine(sqlalchemy_url(dsn), poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            key = _lock_key(migrations)
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            return await connection.run_sync(run)
    finally:
        await engine.dispose()


def execute_all(statements: Iterable[str]) -> None:
    """A revision's `upgrade`: each statement in order, inside the migration's transaction."""
    for statement in statements:
        op.execute(statement)


def forward_only() -> None:
    """Every revision's `downgrade`: migrations only move forward; a fix is a new revision."""
    raise NotImplementedError("Migrations are forward-only: write a new revision instead.")
