"""A real node: kubelet + containerd in a sandbox the platform makes, running a pod for real.

The platform here is its own (control plane only, with `real_node=True`, as `meridian dev up
--real-node` runs it), so the node's sandbox is created and undone inside this test, and the
test can assert that `down` leaves nothing of it on the host: CI runs on the same machine next.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from ipaddress import ip_address, ip_network
from pathlib import Path

import pytest

from meridian.localplatform import net, nodeconfig, nodesandbox, platform, realnode
from meridian.localplatform.processes import Supervisor

POD = "hello"


@pytest.fixture
def run_dir() -> Iterator[Path]:
    """A run directory of its own, stopped and removed whatever the test did."""
    path = platform.default_run_dir().parent / f"test-realnode-{uuid.uuid4().hex[:8]}"
    try:
        yield path
    finally:
        platform.down(path)
        shutil.rmtree(path, ignore_errors=True)


def _pod(name: str) -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeSelector": {nodeconfig.TAINT_KEY: "true"},
            "tolerations": [{**nodeconfig.TAINT, "operator": "Equal"}],
            "terminationGracePeriodSeconds": 5,
            "containers": [
                {
                    "name": "main",
                    "image": "meridian.local/pause:1",
                    "imagePullPolicy": "Never",
                    "command": ["/pause", "hello", "from", "a", "real", "node"],
                    "resources": {"limits": {"memory": "16Mi", "cpu": "50m"}},
                }
            ],
        },
    }


def _exists(state: platform.PlatformState, kind: str, name: str) -> bool:
    try:
        platform.kubectl(state, "get", kind, name, "-o", "name")
    except RuntimeError:
        return False
    return True


def test_real_node_runs_a_pod_and_down_leaves_nothing_behind(run_dir: Path) -> None:
    started = time.monotonic()
    state = platform.up(run_dir, datastores=False, real_node=True)
    up_seconds = time.monotonic() - started
    name = realnode.node_name("primary")
    sandbox = nodesandbox.load(realnode.nodes_dir(run_dir) / name)
    assert sandbox is not None

    node = json.loads(platform.kubectl(state, "get", "node", name, "-o", "json"))
    conditions = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert conditions["Ready"] == "True"
    assert nodeconfig.TAINT in node["spec"]["taints"]
    for key, value in nodeconfig.labels("us-east-1").items():
        assert node["metadata"]["labels"][key] == value
    assert {"type": "InternalIP", "address": sandbox.node_ip} in node["status"]["addresses"]
    assert "kwok.x-k8s.io/node" not in node["metadata"].get("annotations", {})
    fake = platform.kubectl(state, "get", "nodes", "-l", "type=kwok", "-o", "name").split()
    assert len(fake) == 12  # kwok keeps its fake nodes beside the real one

    net.wait_until(  # a fresh cluster: the controller-manager makes it within seconds
        lambda: _exists(state, "serviceaccount", "default"),
        what="the default service account",
        timeout=60,
    )
    created = time.monotonic()
    platform.kubectl(state, "apply", "-f", "-", stdin=json.dumps(_pod(POD)))
    platform.kubectl(state, "wait", "--for=condition=Ready", f"pod/{POD}", "--timeout=90s")
    ready_seconds = time.monotonic() - created
    pod = json.loads(platform.kubectl(state, "get", "pod", POD, "-o", "json"))
    assert pod["spec"]["nodeName"] == name
    assert ip_address(pod["status"]["podIP"]) in ip_network(sandbox.pod_cidr)
    net.wait_until(
        lambda: platform.kubectl(state, "logs", POD).strip() == "hello from a real node",
        what="the pod's line in kubectl logs (apiserver -> kubelet over the node's InternalIP)",
        timeout=30,
    )
    rss = {row.name: row.rss_bytes for row in platform.status(run_dir) if row.name.startswith(name)}
    print(
        f"\nup (control plane + real node) {up_seconds:.1f} s; pod create -> Ready"
        f" {ready_seconds:.1f} s; RSS "
        + ", ".join(f"{process} {size / 2**20:.0f} MiB" for process, size in rss.items())
    )

    platform.down(run_dir)
    assert nodesandbox.leftovers(sandbox) == []
    assert [record.name for record in Supervisor(run_dir).records()] == []
