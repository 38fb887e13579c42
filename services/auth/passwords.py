"""Password hashing with argon2id (memory-hard), off the event loop and bounded in concurrency.

Each hash holds `argon2_memory_kib` of memory and tens of milliseconds of CPU, so it runs in a
worker thread under a semaphore. Login always verifies *some* hash — the user's, or a dummy one
when the tenant or email is unknown — so its answer and its timing do not reveal which emails
exist.
"""

from __future__ import annotations

import asyncio

import argon2
from argon2 import exceptions as argon2_errors

from meridian.services.auth.settings import Settings


class Passwords:
    def __init__(self, settings: Settings) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=settings.argon2_time_cost,
            memory_cost=settings.argon2_memory_kib,
            parallelism=settings.argon2_parallelism,
            type=argon2.Type.ID,
        )
        self._slots = asyncio.Semaphore(settings.password_hash_concurrency)
        self._dummy = self._hasher.hash("not a password anyone has")

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, stored: str | None, password: str) -> bool:
        """True when `password` matches `stored`; None (no such user) costs the same and fails."""
        async with self._slots:
            try:
                await asyncio.to_thread(self._hasher.verify, stored or self._dummy, password)
            except (argon2_errors.VerificationError, argon2_errors.InvalidHashError):
                return False
        return stored is not None

    def needs_rehash(self, stored: str) -> bool:
        """The stored hash was made with other parameters than today's: rehash after login."""
        return self._hasher.check_needs_rehash(stored)
