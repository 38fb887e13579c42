"""RabbitMQ with its management plugin, from Debian's package, in our own run directory.

Debian's `rabbitmq-server` wrapper `su`s to the `rabbitmq` user and uses /var/lib/rabbitmq, so we
run the real script (/usr/lib/rabbitmq/bin/rabbitmq-server) as our service user with every path,
port and the Erlang cookie pointed into the run directory. epmd is started first, in the
foreground, on a port of ours: left to itself Erlang would daemonize one that outlives `down`.
"""

from __future__ import annotations

import base64
import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from meridian.localplatform import net
from meridian.localplatform.processes import ProcessSpec, Supervisor, chown_to_service_user

RABBITMQ_SCRIPT = "/usr/lib/rabbitmq/bin/rabbitmq-server"
USER = "meridian"


@dataclass(frozen=True)
class RabbitInfo:
    amqp_port: int
    management_port: int
    dist_port: int
    epmd_port: int
    password: str

    @property
    def amqp_url(self) -> str:
        return f"amqp://{USER}:{self.password}@{net.LOOPBACK}:{self.amqp_port}/"

    @property
    def management_url(self) -> str:
        return f"http://{net.LOOPBACK}:{self.management_port}"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _environment(run_dir: Path, info: RabbitInfo) -> dict[str, str]:
    return {
        "HOME": str(run_dir),
        "RABBITMQ_NODENAME": "meridian@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": net.LOOPBACK,
        "RABBITMQ_NODE_PORT": str(info.amqp_port),
        "RABBITMQ_DIST_PORT": str(info.dist_port),
        "ERL_EPMD_PORT": str(info.epmd_port),
        "ERL_EPMD_ADDRESS": net.LOOPBACK,
        "RABBITMQ_MNESIA_BASE": str(run_dir / "mnesia"),
        "RABBITMQ_LOG_BASE": str(run_dir / "log"),
        "RABBITMQ_LOGS": "-",
        "RABBITMQ_CONFIG_FILE": str(run_dir / "rabbitmq"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(run_dir / "advanced.config"),
        "RABBITMQ_CONF_ENV_FILE": str(run_dir / "rabbitmq-env.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(run_dir / "enabled_plugins"),
        "RABBITMQ_PID_FILE": str(run_dir / "rabbitmq.pid"),
    }


def start(supervisor: Supervisor, run_dir: Path) -> RabbitInfo:
    run_dir.mkdir(parents=True, exist_ok=True)
    state_file = run_dir / "rabbitmq.json"
    if state_file.exists():
        info = RabbitInfo(**json.loads(state_file.read_text()))
    else:
        amqp, management, dist, epmd = net.free_ports(4)
        info = RabbitInfo(amqp, management, dist, epmd, secrets.token_urlsafe(18))
        state_file.write_text(json.dumps(info.to_json()))
        state_file.chmod(0o600)
        (run_dir / "rabbitmq.conf").write_text(
            "\n".join(
                [
                    f"default_user = {USER}",
                    f"default_pass = {info.password}",
                    "default_permissions.configure = .*",
                    "default_permissions.read = .*",
                    "default_permissions.write = .*",
                    f"management.tcp.ip = {net.LOOPBACK}",
                    f"management.tcp.port = {info.management_port}",
                    "vm_memory_high_watermark.absolute = 512MiB",
                    "disk_free_limit.absolute = 50MB",
                    "",
                ]
            )
        )
        (run_dir / "enabled_plugins").write_text("[rabbitmq_management].\n")
        (run_dir / "rabbitmq-env.conf").write_text("")
        cookie = run_dir / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(20))
        cookie.chmod(0o400)
        (run_dir / "mnesia").mkdir(exist_ok=True)
        (run_dir / "log").mkdir(exist_ok=True)
    chown_to_service_user(run_dir)
    env = _environment(run_dir, info)
    supervisor.start(
        ProcessSpec(
            name="epmd",
            argv=["epmd", "-port", str(info.epmd_port), "-address", net.LOOPBACK],
            env=env,
            cwd=run_dir,
            unprivileged=True,
        )
    )
    supervisor.wait_ready("epmd", lambda: net.tcp_open(info.epmd_port), timeout=15)
    supervisor.start(
        ProcessSpec(
            name="rabbitmq", argv=[RABBITMQ_SCRIPT], env=env, cwd=run_dir, unprivileged=True
        )
    )
    credentials = base64.b64encode(f"{USER}:{info.password}".encode()).decode()
    overview = f"{info.management_url}/api/overview"
    supervisor.wait_ready(
        "rabbitmq",
        lambda: net.http_ok(overview, headers={"Authorization": f"Basic {credentials}"}),
        timeout=120,
    )
    return info
