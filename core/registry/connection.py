"""The connection type the registry's queries take: a plain connection or one from a pool."""

from __future__ import annotations

from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"
