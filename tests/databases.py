"""A fresh PostgreSQL database per test on the session's platform, dropped afterwards.

For services whose tables are global rather than tenant-keyed (Stripe events, signing keys): in a
shared database, whatever one test leaves unprocessed is claimed by the next test's processor and
relayed to that test's exchange, so one failure becomes two.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import asyncpg

from meridian.localplatform import platform


@contextlib.asynccontextmanager
async def fresh(local_platform: platform.PlatformState, prefix: str) -> AsyncIterator[str]:
    """Yields the DSN of a new empty database named `<prefix>_<random>`."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(local_platform.postgres_info.dsn("postgres"))
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield local_platform.postgres_info.dsn(name)
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    finally:
        await admin.close()
