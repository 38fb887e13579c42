"""The SQL a plan runs against its PostgreSQL pair: lag, fence, promote, and the checks before each.

Every function opens its own short connection (a plan acts rarely, and a pool would pin
connections to a primary that a run is about to fence). Every action checks the world first,
so running it twice is harmless: fencing a fenced primary, promoting a promoted replica.

Fencing is `ALTER SYSTEM SET default_transaction_read_only` + reload + terminating every other
client session, not stopping the server: the operator reaches PostgreSQL only over SQL (RDS
allows no more), the primary keeps streaming its last WAL to the replica while the run waits for
replay, and un-fencing after a failure before promotion is one RESET. Its limit: a superuser
session may still `SET default_transaction_read_only = off`, so the services' roles must not be
superusers (they are not: the Tenant operator's roles own their databases only).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Literal, NamedTuple

import asyncpg


@contextlib.asynccontextmanager
async def connect(dsn: str, timeout_s: float) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(dsn, timeout=timeout_s, command_timeout=timeout_s)
    try:
        yield connection
    finally:
        await connection.close(timeout=timeout_s)


class Replication(NamedTuple):
    in_recovery: bool
    streaming: bool
    """The replica's WAL receiver is streaming (pg_stat_wal_receiver)."""
    replay_lsn: str | None
    lag_bytes: int | None
    """Primary's current WAL position minus the replica's replay position."""
    lag_seconds: float | None
    """pg_stat_replication.replay_lag on the primary (0 when nothing is left to replay)."""


async def replication(primary: str, replica: str, timeout_s: float) -> Replication:
    async with connect(replica, timeout_s) as conn:
        row = await conn.fetchrow(
            "SELECT pg_is_in_recovery() AS recovery,"
            " pg_last_wal_replay_lsn()::text AS replay,"
            " EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') AS streaming"
        )
    assert row is not None
    if not row["recovery"]:
        return Replication(False, False, None, None, None)
    async with connect(primary, timeout_s) as conn:
        lag = await conn.fetchrow(
            "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::text::pg_lsn)::bigint AS bytes,"
            " (SELECT max(extract(epoch FROM replay_lag)) FROM pg_stat_replication"
            "  WHERE state = 'streaming')::float8 AS seconds",
            row["replay"],
        )
    assert lag is not None
    lag_bytes = max(int(lag["bytes"]), 0) if lag["bytes"] is not None else None
    seconds = lag["seconds"]
    if seconds is None and lag_bytes == 0:
        seconds = 0.0  # replay_lag is NULL once the standby has replayed everything
    return Replication(True, bool(row["streaming"]), row["replay"], lag_bytes, seconds)


async def is_fenced(dsn: str, timeout_s: float) -> bool:
    async with connect(dsn, timeout_s) as conn:
        # A new session starts with the server's default: what every client now gets.
        value = await conn.fetchval("SELECT current_setting('default_transaction_read_only')")
    return bool(value == "on")


async def fence(dsn: str, timeout_s: float) -> tuple[str, int]:
    """Make the primary refuse writes; return its WAL end afterwards and the sessions ended."""
    async with connect(dsn, timeout_s) as conn:
        await conn.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        await conn.execute("SELECT pg_reload_conf()")
        # Every other client session: a transaction opened read-write before the reload would
        # otherwise still commit. Replication (walsender) connections keep streaming.
        ended = await conn.fetchval(
            "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
        lsn = await conn.fetchval("SELECT pg_current_wal_lsn()::text")
    return str(lsn), int(ended or 0)


async def unfence(dsn: str, timeout_s: float) -> None:
    async with connect(dsn, timeout_s) as conn:
        await conn.execute("ALTER SYSTEM RESET default_transaction_read_only")
        await conn.execute("SELECT pg_reload_conf()")


async def current_lsn(dsn: str, timeout_s: float) -> str:
    async with connect(dsn, timeout_s) as conn:
        return str(await conn.fetchval("SELECT pg_current_wal_lsn()::text"))


async def replayed_past(dsn: str, lsn: str, timeout_s: float) -> tuple[bool, str]:
    """Whether the replica has replayed up to `lsn`, and its replay position."""
    async with connect(dsn, timeout_s) as conn:
        row = await conn.fetchrow(
            "SELECT pg_last_wal_replay_lsn()::text AS replay,"
            " pg_last_wal_replay_lsn() >= $1::text::pg_lsn AS reached",
            lsn,
        )
    assert row is not None
    return bool(row["reached"]), str(row["replay"])


async def lsn_gap(later: str, earlier: str, dsn: str, timeout_s: float) -> int:
    async with connect(dsn, timeout_s) as conn:
        gap = await conn.fetchval(
            "SELECT pg_wal_lsn_diff($1::text::pg_lsn, $2::text::pg_lsn)::bigint", later, earlier
        )
    return max(int(gap or 0), 0)


async def in_recovery(dsn: str, timeout_s: float) -> bool:
    async with connect(dsn, timeout_s) as conn:
        recovery: bool = await conn.fetchval("SELECT pg_is_in_recovery()")
    return recovery


class Standing(NamedTuple):
    """A server as a run into it sees it: what decides whether it must be re-seeded first."""

    in_recovery: bool
    streaming: bool
    fenced: bool


async def standing(dsn: str, timeout_s: float) -> Standing:
    async with connect(dsn, timeout_s) as conn:
        row = await conn.fetchrow(
            "SELECT pg_is_in_recovery() AS recovery,"
            " EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming') AS streaming,"
            " current_setting('default_transaction_read_only') = 'on' AS fenced"
        )
    assert row is not None
    return Standing(bool(row["recovery"]), bool(row["streaming"]), bool(row["fenced"]))


Need = Literal["streaming", "reseed", "refuse"]


def reseed_need(target: Standing | None) -> Need:
    """Whether a run's target must be re-seeded before it can follow the source (None: down).

    streaming: a replica streaming already, nothing to do. reseed: a fenced former primary, a
    replica that does not stream, or a server that is down. refuse: a writable primary, whose
    writes a re-seed would throw away (two primaries: on-call decides, not the operator)."""
    if target is None:
        return "reseed"
    if target.in_recovery:
        return "streaming" if target.streaming else "reseed"
    return "reseed" if target.fenced else "refuse"


async def promote(dsn: str, timeout_s: float) -> bool:
    """Promote the replica unless it already is a primary; True when this call promoted it."""
    async with connect(dsn, timeout_s) as conn:
        if not await conn.fetchval("SELECT pg_is_in_recovery()"):
            return False
        done = await conn.fetchval("SELECT pg_promote(true, $1)", int(timeout_s))
    if not done:
        raise RuntimeError(f"pg_promote did not finish within {int(timeout_s)} s")
    return True


async def accepts_writes(dsn: str, timeout_s: float) -> bool:
    async with connect(dsn, timeout_s) as conn:
        row = await conn.fetchrow(
            "SELECT pg_is_in_recovery() AS recovery,"
            " current_setting('default_transaction_read_only') AS ro"
        )
    assert row is not None
    return not row["recovery"] and row["ro"] == "off"


async def replay_age(dsn: str, timeout_s: float) -> float:
    """Seconds since the newest transaction the replica replayed was committed (0 when none)."""
    async with connect(dsn, timeout_s) as conn:
        age = await conn.fetchval(
            "SELECT coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp()), 0)::float8"
        )
    return max(float(age), 0.0)
