"""Two replicas of the operator: kopf peering leaves exactly one of them active."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from meridian.localplatform import platform
from meridian.localplatform.processes import Supervisor
from tests import edge_nodes
from tests.metrics import reconciles

RESYNC_S = 2.0
"""The replicas' resync: the paused replica is watched over ROUNDS of it, not just one instant."""
ROUNDS = 3


def test_of_two_replicas_exactly_one_reconciles(local_platform: platform.PlatformState) -> None:
    """A new EdgeNode is reconciled by one replica, which keeps resyncing it; the other, paused
    by peering, does nothing through several resync rounds."""
    peering = f"peering-{uuid.uuid4().hex[:6]}"
    supervisor = Supervisor(Path(local_platform.run_dir) / peering)
    node = f"edge-peering-{uuid.uuid4().hex[:6]}"
    try:
        replicas = {
            name: platform.start_operators(
                local_platform,
                supervisor=supervisor,
                name=name,
                only="edge",
                env={
                    "MERIDIAN_OPERATOR_PEERING_NAME": peering,
                    "MERIDIAN_OPERATOR_RESYNC_S": str(RESYNC_S),
                },
            )
            for name in ("replica-a", "replica-b")
        }
        before = {name: reconciles(ports, "EdgeNode") for name, ports in replicas.items()}

        edge_nodes.apply_and_wait_observed(local_platform, node)
        # Not sampled the moment the first status lands: a replica that woke late, or reconciled
        # only on its timer, shows within a few resync rounds.
        time.sleep(RESYNC_S * ROUNDS)

        grew = {
            name: reconciles(ports, "EdgeNode") - before[name] for name, ports in replicas.items()
        }
        logs = {name: supervisor.log_tail(name, 10) for name in replicas}
        active = [name for name, n in grew.items() if n > 0]
        assert len(active) == 1, (grew, logs)
        assert grew[active[0]] >= ROUNDS, f"the active replica stopped resyncing: {grew}"
    finally:
        # Deleted while the replicas run, so that the active one releases kopf's finalizer.
        platform.kubectl(
            local_platform, "delete", "edgenode", node, "--ignore-not-found", "--timeout=60s"
        )
        supervisor.stop_all()
        platform.kubectl(
            local_platform, "delete", "clusterkopfpeering", f"{peering}-edge", "--ignore-not-found"
        )
