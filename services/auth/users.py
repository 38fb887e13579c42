"""Creating users: the one helper behind the CLI (`create-user`) and `make up`'s demo user.

`ensure=True` makes it level-triggered, as `make up` needs on a run directory that already has
the user: an existing user is brought to the given password and scopes instead of refused.
"""

from __future__ import annotations

import uuid

from meridian.core.registry import users
from meridian.core.runtime import db
from meridian.services.auth import registry
from meridian.services.auth.passwords import Passwords
from meridian.services.auth.settings import Settings


class UnknownTenant(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"No tenant named {name!r} in the platform registry")
        self.name = name


async def create_user(
    pool: db.Pool,
    passwords: Passwords,
    *,
    tenant: str,
    email: str,
    password: str,
    scopes: list[str],
    ensure: bool = False,
) -> uuid.UUID:
    """A new active user of tenant `tenant` (by name); `users.DuplicateEmail` if it exists,
    unless `ensure`."""
    async with registry.unscoped(pool) as conn:
        found = await users.find_tenant(conn, tenant)
    if found is None:
        raise UnknownTenant(tenant)
    password_hash = await passwords.hash(password)
    async with registry.scoped(pool, found.id) as conn:
        existing = await users.by_email(conn, found.id, email) if ensure else None
        if existing is None:
            return await users.insert(
                conn, found.id, email=email, password_hash=password_hash, scopes=scopes
            )
        await users.set_password_hash(conn, found.id, existing.id, password_hash)
        await users.set_scopes(conn, found.id, existing.id, scopes)
        return existing.id


async def create_user_from_settings(
    settings: Settings,
    *,
    tenant: str,
    email: str,
    password: str,
    scopes: list[str] | None,
    ensure: bool = False,
) -> uuid.UUID:
    """What the CLI runs: migrations to head, a short-lived pool, one user."""
    await registry.migrate(settings)
    pool = await registry.create_pool(settings)
    try:
        return await create_user(
            pool,
            Passwords(settings),
            tenant=tenant,
            email=email,
            password=password,
            scopes=settings.default_user_scopes if scopes is None else scopes,
            ensure=ensure,
        )
    finally:
        await pool.close()
