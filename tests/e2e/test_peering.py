"""Two replicas of the operator: kopf peering leaves exactly one of them active."""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

from meridian.localplatform import net, platform
from meridian.localplatform.processes import ProcessSpec, Supervisor

PAUSED = "Pausing operations in favour of"


def test_of_two_replicas_one_pauses_in_favour_of_the_other(
    local_platform: platform.PlatformState,
) -> None:
    peering = f"peering-{uuid.uuid4().hex[:6]}"
    supervisor = Supervisor(Path(local_platform.run_dir) / peering)
    replicas = ["replica-a", "replica-b"]
    try:
        for name in replicas:
            health, metrics = net.free_ports(2)
            env = {
                **local_platform.environment(),
                "MERIDIAN_OPERATOR_HEALTH_PORT": str(health),
                "MERIDIAN_OPERATOR_METRICS_PORT": str(metrics),
                "MERIDIAN_OPERATOR_PEERING_NAME": peering,
                "PYTHONPATH": os.pathsep.join(sys.path),
            }
            argv = [sys.executable, "-m", "meridian", "operator", "run", "--only", "edge"]
            supervisor.start(ProcessSpec(name, argv, env=env))
            supervisor.wait_ready(
                name, lambda h=health: net.http_ok(f"http://{net.LOOPBACK}:{h}/healthz"), timeout=60
            )

        deadline = time.monotonic() + 60
        paused: list[str] = []
        while time.monotonic() < deadline and not paused:
            paused = [name for name in replicas if PAUSED in supervisor.log_tail(name, lines=400)]
            time.sleep(0.5)
        assert len(paused) == 1, {name: supervisor.log_tail(name, 20) for name in replicas}

        peers = platform.kubectl(local_platform, "get", "clusterkopfpeering", peering, "-o", "json")
        assert peers.count('"priority"') == 2
    finally:
        supervisor.stop_all()
        platform.kubectl(
            local_platform, "delete", "clusterkopfpeering", peering, "--ignore-not-found"
        )
