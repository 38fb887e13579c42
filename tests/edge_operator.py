"""The EdgeNode operator as e2e tests run it: alone, as its own ServiceAccount holding exactly its
declared ClusterRole, with short cadences (and the grace the test asks for) in its settings."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import yaml

from meridian.localplatform import platform
from meridian.localplatform.processes import Supervisor
from meridian.operators.machinery import rbac
from tests import kubeconfigs

NAMESPACE = "meridian-system"
PROCESS = "edge-operator"
STUCK_SITE = "stuck1"
"""The one site whose upgrade timeout is short (4 s): the timeout test's."""


@contextlib.contextmanager
def running(
    state: platform.PlatformState, workdir: Path, *, grace_s: float
) -> Iterator[tuple[str, Supervisor, Callable[[], None]]]:
    """Yields (account, supervisor, start); `start()` (re)starts the process after a kill."""
    account = f"edge-op-{uuid.uuid4().hex[:6]}"
    platform.kubectl(
        state,
        "apply",
        "-f",
        "-",
        stdin=f"apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NAMESPACE}\n",
    )
    manifest = yaml.safe_dump_all(
        rbac.manifests(["edge"], namespace=NAMESPACE, service_account=account)
    )
    platform.kubectl(state, "apply", "-f", "-", stdin=manifest)
    kubeconfig = str(workdir / "operator.kubeconfig")
    kubeconfigs.token_kubeconfig(state, NAMESPACE, account, kubeconfig)
    supervisor = Supervisor(workdir / "run")
    env = {
        "KUBECONFIG": kubeconfig,
        "MERIDIAN_OPERATOR_PEERING_NAME": account,
        "MERIDIAN_OPERATOR_EDGE_GRACE_S": str(grace_s),
        "MERIDIAN_OPERATOR_EDGE_HEARTBEAT_CHECK_S": "1",
        "MERIDIAN_OPERATOR_EDGE_WAVE_INTERVAL_S": "1",
        "MERIDIAN_OPERATOR_EDGE_MAX_UNAVAILABLE": "2",
        "MERIDIAN_OPERATOR_EDGE_LAST_SEEN_RESOLUTION_S": "5",
        "MERIDIAN_OPERATOR_EDGE_SITE_UPGRADE_TIMEOUT_S": json.dumps({STUCK_SITE: 4}),
    }

    def start() -> None:
        platform.start_operators(state, supervisor=supervisor, name=PROCESS, only="edge", env=env)

    try:
        start()
        yield account, supervisor, start
    finally:
        supervisor.stop_all()
        platform.kubectl(
            state, "delete", "clusterkopfpeering", f"{account}-edge", "--ignore-not-found"
        )
        platform.kubectl(state, "delete", "-f", "-", "--ignore-not-found", stdin=manifest)
