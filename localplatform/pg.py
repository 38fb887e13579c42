"""PostgreSQL 15 from Debian's packages: a primary and, on request, a streaming standby.

initdb and postgres refuse to run as root, so as root both run as the `meridian` system user,
in a data directory that user owns. The standby is a pg_basebackup of the primary with `-R`
(standby.signal + primary_conninfo), the same mechanism as the seed's cross-region replica.

With a standby, each server gets an instance agent beside it (`meridian.pg_agent`, one process
each, loopback, one bearer token in postgres.json): what a FailoverPlan's failback asks to re-seed
the old primary. The agent runs as root here, like the platform's supervisor it restarts the
server through (`python -m meridian.localplatform.pg start-server`), and runs the PostgreSQL
tools as the service user. So that re-seed can be a pg_rewind: `wal_log_hints = on`,
`full_page_writes = on` (rewind refuses a source without) and `wal_keep_size` (the target's WAL
back to the last common checkpoint must still be there); sockets live outside the data directory
(rewind copies the source's directory and cannot copy a socket).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from meridian.localplatform import net, versions
from meridian.localplatform.processes import (
    ProcessSpec,
    Supervisor,
    chown_to_service_user,
    run_checked,
    service_user,
)

DATABASES = (
    "meridian_platform",
    "meridian_auth",
    "meridian_orders",
    "meridian_fulfillment",
    "meridian_inventory",
    "meridian_billing",
    "meridian_stripe_webhooks",
)
SUPERUSER = "postgres"


def pg_bin(tool: str) -> str:
    return f"/usr/lib/postgresql/{versions.POSTGRESQL_MAJOR}/bin/{tool}"


@dataclass(frozen=True)
class PostgresInfo:
    port: int
    password: str
    standby_port: int | None = None
    agent_port: int | None = None
    standby_agent_port: int | None = None
    agent_token: str | None = None

    def agent_url(self, *, standby: bool = False) -> str:
        port = self.standby_agent_port if standby else self.agent_port
        return f"http://{net.LOOPBACK}:{port}"

    def dsn(self, database: str = "meridian_platform", *, standby: bool = False) -> str:
        port = self.standby_port if standby else self.port
        return f"postgresql://{SUPERUSER}:{self.password}@{net.LOOPBACK}:{port}/{database}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _as_service_user(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> None:
    run_checked(argv, cwd=cwd, env=env, as_service_user=True)


def socket_dir(data: Path) -> Path:
    """Where a server's Unix socket lives: beside its data directory, never in it (pg_rewind
    copies the source's data directory file by file and fails on a socket)."""
    return data.parent / "sockets" / data.name


def _postgres_spec(name: str, data: Path, port: int) -> ProcessSpec:
    sockets = socket_dir(data)
    sockets.mkdir(parents=True, exist_ok=True)
    chown_to_service_user(sockets.parent)
    return ProcessSpec(
        name=name,
        argv=[
            pg_bin("postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-c",
            f"listen_addresses={net.LOOPBACK}",
            "-c",
            f"unix_socket_directories={sockets}",
            "-c",
            "max_connections=300",
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=on",  # pg_rewind refuses a source without (fsync=off is the speed-up)
            "-c",
            "wal_level=replica",
            "-c",
            "wal_log_hints=on",  # pg_rewind needs it (or data checksums) to re-seed a primary
            "-c",
            # pg_rewind reads the target's WAL back to the last checkpoint both sides share;
            # without a margin a checkpoint after the switchover recycles it (no restore_command).
            "wal_keep_size=256MB",
            "-c",
            "hot_standby=on",
            "-c",
            "log_min_messages=warning",
        ],
        cwd=data,
        unprivileged=True,
        # SIGINT is PostgreSQL's "fast shutdown": roll back sessions, checkpoint, exit.
        stop_signal=signal.SIGINT,
    )


def _wait_accepting(supervisor: Supervisor, name: str, port: int) -> None:
    probe = [pg_bin("pg_isready"), "-h", net.LOOPBACK, "-p", str(port), "-q"]
    supervisor.wait_ready(
        name, lambda: subprocess.run(probe, check=False).returncode == 0, timeout=60
    )


def start(supervisor: Supervisor, run_dir: Path, *, standby: bool = False) -> PostgresInfo:
    run_dir.mkdir(parents=True, exist_ok=True)
    state_file = run_dir / "postgres.json"
    if state_file.exists():
        info = PostgresInfo(**json.loads(state_file.read_text()))
    else:
        port, standby_port, agent_port, standby_agent_port = net.free_ports(4)
        info = PostgresInfo(
            port=port,
            password=secrets.token_urlsafe(18),
            standby_port=standby_port,
            agent_port=agent_port,
            standby_agent_port=standby_agent_port,
            agent_token=secrets.token_urlsafe(24),
        )
        state_file.write_text(json.dumps(info.to_json()))
        state_file.chmod(0o600)
    primary = run_dir / "primary"
    if not (primary / "PG_VERSION").exists():
        primary.mkdir(parents=True, exist_ok=True)
        password_file = run_dir / "pwfile"
        password_file.write_text(info.password + "\n")
        chown_to_service_user(run_dir)
        _as_service_user(
            [
                pg_bin("initdb"),
                "-D",
                str(primary),
                "-U",
                SUPERUSER,
                f"--pwfile={password_file}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
            ],
            cwd=run_dir,
        )
        password_file.unlink()
        # Also in the file, not only on the command line: pg_rewind runs a crashed target's
        # crash recovery in single-user mode with the file's settings, and would otherwise find
        # wal_log_hints off in pg_control afterwards, and the WAL it needs recycled.
        with (primary / "postgresql.conf").open("a") as conf:
            conf.write("\n# meridian: pg_rewind after a failover\n")
            conf.write("wal_log_hints = on\nwal_keep_size = 256MB\n")
    supervisor.start(_postgres_spec("postgres-primary", primary, info.port))
    _wait_accepting(supervisor, "postgres-primary", info.port)
    _create_databases(socket_dir(primary), info.port)
    if standby and info.standby_port is not None:
        replica = run_dir / "standby"
        if not (replica / "PG_VERSION").exists():
            _as_service_user(
                [
                    pg_bin("pg_basebackup"),
                    "-h",
                    str(socket_dir(primary)),
                    "-p",
                    str(info.port),
                    "-U",
                    SUPERUSER,
                    "-D",
                    str(replica),
                    "-R",
                    "-X",
                    "stream",
                    "--checkpoint=fast",
                ],
                cwd=run_dir,
            )
        supervisor.start(_postgres_spec("postgres-standby", replica, info.standby_port))
        _wait_accepting(supervisor, "postgres-standby", info.standby_port)
        for which in WHICH:
            _start_agent(supervisor, run_dir, info, which)
    return info


WHICH = ("primary", "standby")
"""The two servers by data directory name; each keeps its process name whatever its role."""


def _server(run_dir: Path, info: PostgresInfo, which: str) -> tuple[str, Path, int]:
    port = info.port if which == "primary" else info.standby_port
    assert port is not None
    return f"postgres-{which}", run_dir / which, port


def start_server(run_dir: Path, which: str) -> None:
    """(Re)start one server under the platform's supervisor and wait for it: the instance
    agent's start command after a re-seed (`python -m meridian.localplatform.pg start-server`)."""
    info = PostgresInfo(**json.loads((run_dir / "postgres.json").read_text()))
    name, data, port = _server(run_dir, info, which)
    supervisor = Supervisor(run_dir.parent)
    supervisor.start(_postgres_spec(name, data, port))
    _wait_accepting(supervisor, name, port)


def _start_agent(supervisor: Supervisor, run_dir: Path, info: PostgresInfo, which: str) -> None:
    if info.agent_token is None:  # a platform started before agents existed
        return
    _, data, port = _server(run_dir, info, which)
    agent_port = info.agent_port if which == "primary" else info.standby_agent_port
    user = service_user()
    env = {
        "PYTHONPATH": os.pathsep.join(sys.path),
        "MERIDIAN_PG_AGENT_NAME": f"pg-agent-{which}",
        "MERIDIAN_PG_AGENT_HOST": net.LOOPBACK,
        "MERIDIAN_PG_AGENT_PORT": str(agent_port),
        "MERIDIAN_PG_AGENT_TOKEN": info.agent_token,
        "MERIDIAN_PG_AGENT_DATA_DIR": str(data),
        "MERIDIAN_PG_AGENT_SOCKET_DIR": str(socket_dir(data)),
        "MERIDIAN_PG_AGENT_PG_PORT": str(port),
        "MERIDIAN_PG_AGENT_BIN_DIR": str(Path(pg_bin("postgres")).parent),
        "MERIDIAN_PG_AGENT_STATE_FILE": str(run_dir / f"{which}-agent.json"),
        "MERIDIAN_PG_AGENT_RUN_AS": user.pw_name if user else "",
        "MERIDIAN_PG_AGENT_START_ARGV": json.dumps(
            [sys.executable, "-m", "meridian.localplatform.pg", "start-server", str(run_dir), which]
        ),
    }
    agent = f"pg-agent-{which}"
    supervisor.start(
        ProcessSpec(name=agent, argv=[sys.executable, "-m", "meridian.pg_agent"], env=env)
    )
    healthz = f"{info.agent_url(standby=which == 'standby')}/healthz"
    supervisor.wait_ready(agent, lambda: net.http_ok(healthz), timeout=60)


def _create_databases(socket_dir: Path, port: int) -> None:
    def psql(sql: str) -> str:
        server = ["-h", str(socket_dir), "-p", str(port), "-U", SUPERUSER, "-d", "postgres"]
        return run_checked(["psql", *server, "-tAc", sql])

    existing = set(psql("SELECT datname FROM pg_database").split())
    for database in DATABASES:
        if database not in existing:
            psql(f'CREATE DATABASE "{database}"')


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] != "start-server" or sys.argv[3] not in WHICH:
        raise SystemExit(
            "usage: python -m meridian.localplatform.pg start-server RUN_DIR primary|standby"
        )
    start_server(Path(sys.argv[2]), sys.argv[3])
