"""One platform with a real node for every test module of this package, not one per module.

Its modules run pods on the node without the admission policies (their images are
`meridian.local/...`, not an approved registry): the Debian python3 images answering HTTP, exec,
restarts and OOM kills (`test_real_node`), Services, CoreDNS and the datastores' Services
(`test_real_node_network`). Each module imports its own image and deletes its own pods; the
platform (control plane, datastores, node) is started once, on first use, and stopped after the
package's last test, before any other module runs: so `test_real_node_dr` (outside the package)
never runs beside it, and its check of the host's sysctls and routes is not skipped for a node
of ours still running. A platform per module cost its `up` and `down` twice (20 s and 10 s for
the control plane and node alone, 2 cores at load 8-13).

`test_real_node_runs_a_pod_and_down_leaves_nothing_behind` starts its own platform: its `up` and
`down` are what it tests. It runs first, before this fixture is set up, for the same reason.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from meridian.localplatform import nodesandbox, platform, realnode
from meridian.localplatform.processes import Supervisor
from tests.e2e.real_node.test_real_node import _up


@pytest.fixture(scope="package")
def real_node() -> Iterator[tuple[platform.PlatformState, Path]]:
    """The platform (with datastores, as `meridian dev up --real-node` runs it) and its run
    directory; `down` must leave nothing of the node on the host, now including the blackhole
    routes, and no process its supervisor recorded."""
    path = platform.default_run_dir().parent / f"test-realnode-{uuid.uuid4().hex[:8]}"
    try:
        yield _up(path, datastores=True), path
    finally:
        sandbox = nodesandbox.load(realnode.nodes_dir(path) / realnode.node_name("primary"))
        platform.down(path)
        left = [record.name for record in Supervisor(path).records()]
        shutil.rmtree(path, ignore_errors=True)
    assert left == []
    assert sandbox is None or nodesandbox.leftovers(sandbox) == []
