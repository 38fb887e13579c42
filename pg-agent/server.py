"""The one PostgreSQL server the agent owns: its state (over its Unix socket) and the commands
that stop, rewind, clone and start it. Commands are argument lists run as the server's user;
nothing goes through a shell."""

from __future__ import annotations

import asyncio
import os
import pwd
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg

from meridian.pg_agent.settings import PgAgentSettings


@dataclass(frozen=True)
class ServerState:
    running: bool
    in_recovery: bool = False
    read_only: bool = False
    """default_transaction_read_only: the FailoverPlan's fence."""
    timeline: int | None = None
    streaming: bool = False
    upstream: tuple[str, int] | None = None
    """The WAL receiver's sender (host, port) while it has one."""
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "inRecovery": self.in_recovery,
            "readOnly": self.read_only,
            "timeline": self.timeline,
            "streaming": self.streaming,
            "upstream": None if self.upstream is None else f"{self.upstream[0]}:{self.upstream[1]}",
            "error": self.error,
        }


STATE_SQL = """
SELECT pg_is_in_recovery() AS recovery,
       current_setting('default_transaction_read_only') = 'on' AS read_only,
       coalesce((SELECT received_tli FROM pg_stat_wal_receiver),
                (SELECT timeline_id FROM pg_control_checkpoint())) AS timeline,
       (SELECT status FROM pg_stat_wal_receiver) AS receiver,
       (SELECT sender_host FROM pg_stat_wal_receiver) AS sender_host,
       (SELECT sender_port FROM pg_stat_wal_receiver) AS sender_port
"""


class Server:
    def __init__(self, settings: PgAgentSettings) -> None:
        self.settings = settings
        self.user = pwd.getpwnam(settings.run_as) if settings.run_as else None

    def bin(self, tool: str) -> str:
        return str(self.settings.bin_dir / tool)

    async def state(self) -> ServerState:
        try:
            conn = await asyncpg.connect(
                host=str(self.settings.socket_dir or self.settings.data_dir),
                port=self.settings.pg_port,
                user=self.settings.superuser,
                database="postgres",
                timeout=5,
                command_timeout=5,
            )
        except (OSError, asyncpg.PostgresError, TimeoutError) as error:
            return ServerState(running=False, error=f"{type(error).__name__}: {error}")
        try:
            row = await conn.fetchrow(STATE_SQL)
        finally:
            await conn.close()
        assert row is not None
        upstream = None
        if row["sender_host"] is not None:
            upstream = (str(row["sender_host"]), int(row["sender_port"] or 5432))
        return ServerState(
            running=True,
            in_recovery=bool(row["recovery"]),
            read_only=bool(row["read_only"]),
            timeline=row["timeline"],
            streaming=row["receiver"] == "streaming",
            upstream=upstream,
        )

    async def command(
        self, argv: Sequence[str], *, env: Mapping[str, str] | None = None, as_server: bool = True
    ) -> tuple[int, str]:
        """(exit status, the tail of what it printed). As the server's user with a bare
        environment (PATH, LANG and `env`) by default; `as_server=False` (the configured start
        command) runs as the agent with the agent's own environment (PYTHONPATH and all)."""
        user = self.user if as_server else None
        base = (
            {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
            if as_server
            else dict(os.environ)
        )
        # A thread running subprocess.run, not asyncio's subprocesses: uvloop's cannot switch
        # user (user/group/extra_groups), and a re-seed's few commands need no streaming output.
        result = await asyncio.to_thread(
            subprocess.run,
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**base, **(env or {})},
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
            check=False,
        )
        return result.returncode, result.stdout.decode(errors="replace").strip()[-2000:]

    async def stop(self) -> str:
        data = str(self.settings.data_dir)
        status, _ = await self.command([self.bin("pg_ctl"), "status", "-D", data])
        if status != 0:  # 3: not running; 4: no data directory
            return "was not running"
        timeout = str(int(self.settings.stop_timeout_s))
        status, said = await self.command(
            [self.bin("pg_ctl"), "stop", "-D", data, "-m", "fast", "-w", "-t", timeout]
        )
        if status != 0:
            raise RuntimeError(f"pg_ctl stop failed (exit {status}): {said}")
        return "stopped (fast shutdown)"

    async def start(self) -> None:
        if self.settings.start_argv:
            status, said = await self.command(self.settings.start_argv, as_server=False)
        else:
            data = str(self.settings.data_dir)
            status, said = await self.command(
                [self.bin("pg_ctl"), "start", "-D", data, "-w", "-t", "60"]
            )
        if status != 0:
            raise RuntimeError(f"starting the server failed (exit {status}): {said}")

    def own(self, path: os.PathLike[str] | str) -> None:
        """Files the agent writes belong to the server's user (it runs as root locally)."""
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)
