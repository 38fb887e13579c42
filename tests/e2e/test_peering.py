"""Two replicas of the operator: kopf peering leaves exactly one of them active."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from meridian.localplatform import platform
from meridian.localplatform.processes import Supervisor

PAUSED = "Pausing operations in favour of"


def test_of_two_replicas_one_pauses_in_favour_of_the_other(
    local_platform: platform.PlatformState,
) -> None:
    peering = f"peering-{uuid.uuid4().hex[:6]}"
    supervisor = Supervisor(Path(local_platform.run_dir) / peering)
    replicas = ["replica-a", "replica-b"]
    try:
        for name in replicas:
            platform.start_operators(
                local_platform,
                supervisor=supervisor,
                name=name,
                only="edge",
                env={"MERIDIAN_OPERATOR_PEERING_NAME": peering},
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
