"""How the registry is reached: the connection type its queries take, and the services' role.

Services read the registry as `APP_ROLE` (migration 0001: NOLOGIN, no BYPASSRLS), taken per
transaction, so row-level security binds them whatever their login role; the Tenant operator,
the registry's writer, does not take it.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

Connection: TypeAlias = "asyncpg.Connection[Any] | PoolConnectionProxy[Any]"

APP_ROLE = "meridian_app"
"""The registry's role without BYPASSRLS; services `SET LOCAL ROLE` to it."""
