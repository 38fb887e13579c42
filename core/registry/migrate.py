"""Brings the registry schema to the newest revision: `meridian registry migrate`, or an operator
at start-up. Forward-only; concurrent callers (two operator replicas) serialise on an advisory
lock, and the loser finds nothing left to do.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command, script
from alembic.config import Config
from alembic.runtime import migration
from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_KEY = 0x6D657269  # "meri": one advisory lock id for the registry's migrations


def _config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head() -> str:
    revision = script.ScriptDirectory.from_config(_config()).get_current_head()
    assert revision is not None
    return revision


def sqlalchemy_url(dsn: str) -> str:
    """`postgresql://...` as every process configures it, spelled for SQLAlchemy's asyncpg driver."""
    return "postgresql+asyncpg://" + dsn.split("://", 1)[1]


def _upgrade(connection: Connection) -> str | None:
    command.upgrade(_config(connection), "head")
    return migration.MigrationContext.configure(connection).get_current_revision()


async def upgrade(dsn: str) -> str | None:
    """Apply every pending revision; returns the revision the database is at afterwards."""
    engine = create_async_engine(sqlalchemy_url(dsn), poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
            return await connection.run_sync(_upgrade)
    finally:
        await engine.dispose()
