"""Two real nodes at once: the prod and the DR cluster each run one, and neither sees the other.

One platform for the module (control planes only, as `meridian dev up --dr --real-node
--no-datastores` runs it); `meridian dev status` is checked against it too, since it is the only
platform here with more than one real node.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import pytest

from meridian.localplatform import kubecluster, net, nodesandbox, pauseimage, platform, realnode
from meridian.localplatform.processes import Supervisor
from tests.e2e.real_node.test_real_node import _pod

CLUSTERS = ("primary", "dr")


class Clusters:
    """The platform, and kubectl against either of its clusters."""

    def __init__(self, state: platform.PlatformState, run_dir: Path) -> None:
        self.state, self.run_dir = state, run_dir

    def kubectl(self, cluster: str, *args: str, stdin: str | None = None) -> str:
        kubeconfig = str(self.state.clusters[cluster]["kubeconfig"])
        return kubecluster.kubectl(Path(self.state.bin_dir), kubeconfig, *args, stdin=stdin)

    def sandbox(self, cluster: str) -> nodesandbox.Sandbox:
        found = nodesandbox.load(realnode.nodes_dir(self.run_dir) / realnode.node_name(cluster))
        assert found is not None
        return found


def _has_default_account(clusters: Clusters, cluster: str) -> bool:
    try:
        clusters.kubectl(cluster, "get", "serviceaccount", "default", "-o", "name")
    except RuntimeError:
        return False
    return True


@pytest.fixture(scope="module")
def clusters() -> Iterator[Clusters]:
    path = platform.default_run_dir().parent / f"test-realdr-{uuid.uuid4().hex[:8]}"
    try:
        state = platform.up(path, dr=True, datastores=False, real_node=True)
        found = Clusters(state, path)
        for cluster in CLUSTERS:
            net.wait_until(
                lambda cluster=cluster: _has_default_account(found, cluster),  # type: ignore[misc]
                what=f"the default service account of {cluster}",
                timeout=60,
            )
        yield found
    finally:
        platform.down(path)
        shutil.rmtree(path, ignore_errors=True)


def _run_on(clusters: Clusters, cluster: str, name: str) -> dict[str, Any]:
    clusters.kubectl(cluster, "apply", "-f", "-", stdin=json.dumps(_pod(name, pauseimage.REF, [])))
    clusters.kubectl(cluster, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=120s")
    found: dict[str, Any] = json.loads(clusters.kubectl(cluster, "get", "pod", name, "-o", "json"))
    return found


def test_prod_and_dr_each_run_a_ready_real_node_with_its_own_pod(clusters: Clusters) -> None:
    for cluster in CLUSTERS:
        real = clusters.kubectl(cluster, "get", "nodes", "-l", "type=real", "-o", "name").split()
        assert real == [f"node/{realnode.node_name(cluster)}"]  # its own node, not the other's
        ready = clusters.kubectl(
            cluster,
            *("get", "node", realnode.node_name(cluster)),
            '-o=jsonpath={.status.conditions[?(@.type=="Ready")].status}',
        )
        assert ready == "True"
    primary, dr = clusters.sandbox("primary"), clusters.sandbox("dr")
    assert primary.node_ip != dr.node_ip
    assert not ip_network(primary.pod_cidr).overlaps(ip_network(dr.pod_cidr))
    assert primary.cgroup_root != dr.cgroup_root
    for cluster in CLUSTERS:
        pod = _run_on(clusters, cluster, f"on-{cluster}")
        assert pod["spec"]["nodeName"] == realnode.node_name(cluster)
        assert ip_address(pod["status"]["podIP"]) in ip_network(clusters.sandbox(cluster).pod_cidr)


def test_dev_status_lists_both_real_nodes_and_their_pods(clusters: Clusters) -> None:
    for cluster in CLUSTERS:
        _run_on(clusters, cluster, f"on-{cluster}")
    shown = subprocess.run(
        [sys.executable, "-m", "meridian.cli", "dev", "status", f"--run-dir={clusters.run_dir}"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    lines = shown.stdout.splitlines()
    table = lines[lines.index(next(line for line in lines if line.startswith("REAL NODE"))) :]
    for cluster in CLUSTERS:
        row = next(line.split() for line in table if line.startswith(realnode.node_name(cluster)))
        assert row[1:3] == [cluster, "True"]
        pods = int(row[3])
        assert pods >= 1
        shown_pod = next(line.split() for line in table if f"default/on-{cluster}" in line)
        assert shown_pod[1:] == ["Running", "ready"]
    print("\n" + "\n".join(table))


def test_down_undoes_both_nodes(clusters: Clusters) -> None:
    """Last in the module: the fixture's own `down` then finds nothing to do."""
    sandboxes = [clusters.sandbox(cluster) for cluster in CLUSTERS]
    assert sorted(realnode.stop_all(clusters.run_dir)) == sorted(
        realnode.node_name(cluster) for cluster in CLUSTERS
    )
    for sandbox in sandboxes:
        assert nodesandbox.leftovers(sandbox) == []
    platform.down(clusters.run_dir)
    assert [record.name for record in Supervisor(clusters.run_dir).records()] == []
