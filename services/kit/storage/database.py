"""A service's own database, handled the same way by every service that has one.

`contexts(settings, MIGRATIONS)` gives the `cleanup_ctx` entries a service's `app.py` starts with:
its schema brought to head (unless `migrate_on_start` is off, where a Job migrates before the
rollout), then its pool (`db.POOL`, readiness check "postgres"). Tenant queries then run through
`db.tenant_connection(pool, tenant_id, role=settings.db_role)`, so the role the migrations
created, not the login role, meets the row-level security policies.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

from aiohttp import web

from meridian.core.runtime import db
from meridian.services.kit.settings import DatabaseSettings

CleanupContext = Callable[[web.Application], AsyncIterator[None]]


def contexts(settings: DatabaseSettings, migrations: Path) -> list[CleanupContext]:
    """Migrations (when the settings say so), then the pool: the order `cleanup_ctx` needs."""
    migrate = [db.migrations_context(settings, migrations)] if settings.migrate_on_start else []
    return [*migrate, db.pool_context(settings)]
