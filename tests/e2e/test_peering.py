"""Two replicas of the operator: kopf peering leaves exactly one of them active."""

from __future__ import annotations

import re
import urllib.request
import uuid
from pathlib import Path

from meridian.localplatform import net, platform
from meridian.localplatform.processes import Supervisor
from tests import edge_nodes

RECONCILES = re.compile(
    r'^meridian_operator_reconciles_total\{kind="EdgeNode",result="ok"\} ([0-9.]+)$', re.M
)


def _edge_reconciles(ports: platform.OperatorPorts) -> float:
    url = f"http://{net.LOOPBACK}:{ports.metrics}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        found = RECONCILES.search(response.read().decode())
    return float(found.group(1)) if found else 0.0


def test_of_two_replicas_exactly_one_reconciles(local_platform: platform.PlatformState) -> None:
    """A new EdgeNode is reconciled by one replica; the other, paused by peering, does nothing."""
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
                env={"MERIDIAN_OPERATOR_PEERING_NAME": peering},
            )
            for name in ("replica-a", "replica-b")
        }
        before = {name: _edge_reconciles(ports) for name, ports in replicas.items()}

        edge_nodes.apply_and_wait_observed(local_platform, node)

        grew = [name for name, ports in replicas.items() if _edge_reconciles(ports) > before[name]]
        assert len(grew) == 1, {name: supervisor.log_tail(name, 10) for name in replicas}
    finally:
        # Deleted while the replicas run, so that the active one releases kopf's finalizer.
        platform.kubectl(
            local_platform, "delete", "edgenode", node, "--ignore-not-found", "--timeout=60s"
        )
        supervisor.stop_all()
        platform.kubectl(
            local_platform, "delete", "clusterkopfpeering", f"{peering}-edge", "--ignore-not-found"
        )
