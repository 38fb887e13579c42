"""PostgreSQL 15 from Debian's packages: a primary and, on request, a streaming standby.

initdb and postgres refuse to run as root, so as root both run as the `meridian` system user,
in a data directory that user owns. The standby is a pg_basebackup of the primary with `-R`
(standby.signal + primary_conninfo), the same mechanism as the seed's cross-region replica.
"""

from __future__ import annotations

import json
import secrets
import signal
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from meridian.localplatform import net, versions
from meridian.localplatform.processes import (
    ProcessSpec,
    Supervisor,
    chown_to_service_user,
    run_checked,
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

    def dsn(self, database: str = "meridian_platform", *, standby: bool = False) -> str:
        port = self.standby_port if standby else self.port
        return f"postgresql://{SUPERUSER}:{self.password}@{net.LOOPBACK}:{port}/{database}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _as_service_user(argv: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> None:
    run_checked(argv, cwd=cwd, env=env, as_service_user=True)


def _postgres_spec(name: str, data: Path, port: int) -> ProcessSpec:
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
            f"unix_socket_directories={data}",
            "-c",
            "max_connections=300",
            "-c",
            "fsync=off",
            "-c",
            "full_page_writes=off",
            "-c",
            "wal_level=replica",
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
        port, standby_port = net.free_ports(2)
        info = PostgresInfo(
            port=port, password=secrets.token_urlsafe(18), standby_port=standby_port
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
    supervisor.start(_postgres_spec("postgres-primary", primary, info.port))
    _wait_accepting(supervisor, "postgres-primary", info.port)
    _create_databases(primary, info.port)
    if standby and info.standby_port is not None:
        replica = run_dir / "standby"
        if not (replica / "PG_VERSION").exists():
            _as_service_user(
                [
                    pg_bin("pg_basebackup"),
                    "-h",
                    str(primary),
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
    return info


def _create_databases(socket_dir: Path, port: int) -> None:
    def psql(sql: str) -> str:
        server = ["-h", str(socket_dir), "-p", str(port), "-U", SUPERUSER, "-d", "postgres"]
        return run_checked(["psql", *server, "-tAc", sql])

    existing = set(psql("SELECT datname FROM pg_database").split())
    for database in DATABASES:
        if database not in existing:
            psql(f'CREATE DATABASE "{database}"')
