"""Redis 7 from Debian's package, cache-only like production (no RDB, no AOF)."""

from __future__ import annotations

from pathlib import Path

from meridian.localplatform import net
from meridian.localplatform.processes import ProcessSpec, Supervisor, chown_to_service_user


def start(supervisor: Supervisor, run_dir: Path) -> str:
    run_dir.mkdir(parents=True, exist_ok=True)
    (port,) = net.sticky_ports(run_dir / "port", 1)
    chown_to_service_user(run_dir)
    supervisor.start(
        ProcessSpec(
            name="redis",
            argv=[
                "redis-server",
                "--bind",
                net.LOOPBACK,
                "--port",
                str(port),
                "--dir",
                str(run_dir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--maxmemory",
                "256mb",
                "--maxmemory-policy",
                "allkeys-lru",
            ],
            cwd=run_dir,
            unprivileged=True,
        )
    )
    supervisor.wait_ready("redis", lambda: net.tcp_open(port), timeout=30)
    return f"redis://{net.LOOPBACK}:{port}/0"
