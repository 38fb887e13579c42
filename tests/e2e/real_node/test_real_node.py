"""A real node: kubelet + containerd in a sandbox the platform makes, running a pod for real.

The platform here is its own (control plane only, with `real_node=True`, as `meridian dev up
--real-node` runs it), so the node's sandbox is created and undone inside this test, and the
test can assert that `down` leaves nothing of it on the host: CI runs on the same machine next.
The tests of running pods share the package's platform (`conftest.real_node`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from ipaddress import ip_address, ip_network
from pathlib import Path
from typing import Any

import pytest

from meridian.localplatform import (
    baseimage,
    net,
    nodeconfig,
    nodesandbox,
    ociarchive,
    pauseimage,
    platform,
    processes,
    realnode,
)
from meridian.localplatform.processes import Supervisor

POD = "hello"


@pytest.fixture
def run_dir() -> Iterator[Path]:
    """A run directory of its own, stopped and removed whatever the test did; a node that left
    anything on the host fails the test here."""
    path = platform.default_run_dir().parent / f"test-realnode-{uuid.uuid4().hex[:8]}"
    try:
        yield path
    finally:
        nodes = realnode.nodes_dir(path)
        sandboxes = [nodesandbox.load(node) for node in nodes.iterdir()] if nodes.is_dir() else []
        platform.down(path)
        shutil.rmtree(path, ignore_errors=True)
    for sandbox in sandboxes:
        assert sandbox is None or nodesandbox.leftovers(sandbox) == []


def _pod(name: str, image: str, command: list[str], **container: object) -> dict[str, object]:
    """A pod for the real node only: it selects the node and tolerates its taint."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "nodeSelector": {nodeconfig.TAINT_KEY: "true"},
            "tolerations": [{**nodeconfig.TAINT, "operator": "Equal"}],
            "terminationGracePeriodSeconds": 2,
            "containers": [
                {
                    "name": "main",
                    "image": image,
                    "imagePullPolicy": "Never",
                    "command": command,
                    "resources": {"limits": {"memory": "64Mi", "cpu": "200m"}},
                    **container,
                }
            ],
        },
    }


def _up(run_dir: Path, *, datastores: bool = False) -> platform.PlatformState:
    """A control plane with its real node (and the datastores), once it can admit pods."""
    state = platform.up(run_dir, datastores=datastores, real_node=True)
    net.wait_until(  # the controller-manager makes the default service account within seconds
        lambda: _exists(state, "serviceaccount", "default"),
        what="the default service account",
        timeout=60,
    )
    return state


def _run(state: platform.PlatformState, pod: dict[str, object]) -> dict[str, object]:
    """Create the pod; returns it Ready."""
    platform.kubectl(state, "apply", "-f", "-", stdin=json.dumps(pod))
    name = pod["metadata"]["name"]  # type: ignore[index]
    platform.kubectl(state, "wait", "--for=condition=Ready", f"pod/{name}", "--timeout=120s")
    found: dict[str, object] = json.loads(platform.kubectl(state, "get", "pod", name, "-o", "json"))
    return found


def _run_to_end(
    state: platform.PlatformState, pod: dict[str, object], *, timeout: float
) -> dict[str, Any]:
    """Create the pod never to be restarted; returns its container's `terminated` state."""
    pod["spec"]["restartPolicy"] = "Never"  # type: ignore[index]
    platform.kubectl(state, "apply", "-f", "-", stdin=json.dumps(pod))
    name = pod["metadata"]["name"]  # type: ignore[index]
    net.wait_until(
        lambda: "terminated" in _container(state, name).get("state", {}),
        what=f"{name} terminated",
        timeout=timeout,
    )
    terminated: dict[str, Any] = _container(state, name)["state"]["terminated"]
    return terminated


def _exists(state: platform.PlatformState, kind: str, name: str) -> bool:
    try:
        platform.kubectl(state, "get", kind, name, "-o", "name")
    except RuntimeError:
        return False
    return True


def test_real_node_runs_a_pod_and_down_leaves_nothing_behind(run_dir: Path) -> None:
    started = time.monotonic()
    state = _up(run_dir)
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
    # Nothing routes out of the node: no default route in its namespace, only the veth and pods.
    assert processes.run_checked(sandbox.nsenter("ip", "route", "show", "default")) == ""
    fake = platform.kubectl(state, "get", "nodes", "-l", "type=kwok", "-o", "name").split()
    assert len(fake) == 12  # kwok keeps its fake nodes beside the real one

    created = time.monotonic()
    pod = _run(state, _pod(POD, pauseimage.REF, ["/pause", "hello", "from", "a", "real", "node"]))
    ready_seconds = time.monotonic() - created
    assert pod["spec"]["nodeName"] == name
    assert ip_address(pod["status"]["podIP"]) in ip_network(sandbox.pod_cidr)
    net.wait_until(
        lambda: platform.kubectl(state, "logs", POD).strip() == "hello from a real node",
        what="the pod's line in kubectl logs (apiserver -> kubelet over the node's InternalIP)",
        timeout=30,
    )
    # A pod that does not tolerate the taint (every test pod today) stays on kwok's nodes.
    untolerating = _pod("fake", pauseimage.REF, ["/pause"])
    del untolerating["spec"]["nodeSelector"], untolerating["spec"]["tolerations"]  # type: ignore[attr-defined]
    placed = _run(state, untolerating)
    assert placed["spec"]["nodeName"] in {line.removeprefix("node/") for line in fake}  # type: ignore[index]
    rss = {row.name: row.rss_bytes for row in platform.status(run_dir) if row.name.startswith(name)}
    print(
        f"\nup (control plane + real node) {up_seconds:.1f} s; pod create -> Ready"
        f" {ready_seconds:.1f} s; RSS "
        + ", ".join(f"{process} {size / 2**20:.0f} MiB" for process, size in rss.items())
    )

    platform.down(run_dir)
    assert nodesandbox.leftovers(sandbox) == []
    assert [record.name for record in Supervisor(run_dir).records()] == []


HTTP_IMAGE = "meridian.local/hello-http:1"
PAGE = b"hello over the pod network\n"
PODS = ("pod/hello-http", "pod/exec-me", "pod/kill-me", "pod/hungry", "pod/forward-me")
"""What this module's tests of running pods make on the package's node."""


@pytest.fixture(scope="module")
def python_node(
    real_node: tuple[platform.PlatformState, Path],
) -> Iterator[tuple[platform.PlatformState, Path]]:
    """The package's real node with a Debian python3 image, for the tests of running pods; their
    pods are deleted after the module (the node serves the next module of the package)."""
    state, path = real_node
    archive = baseimage.image(
        HTTP_IMAGE,
        extra={"/srv/index.html": ociarchive.File(PAGE)},
        entrypoint=["python3", "-m", "http.server", "8080", "--directory", "/srv"],
    )
    realnode.import_image(path, "primary", archive)
    yield real_node
    platform.kubectl(state, "delete", *PODS, "--ignore-not-found", "--wait=false")


def _http_pod(name: str) -> dict[str, object]:
    probe = {"httpGet": {"path": "/", "port": 8080}, "periodSeconds": 1}
    return _pod(name, HTTP_IMAGE, [], readinessProbe=probe)


def _container(state: platform.PlatformState, pod: str) -> dict[str, Any]:
    found = json.loads(platform.kubectl(state, "get", "pod", pod, "-o", "json"))
    statuses: list[dict[str, Any]] = found["status"].get("containerStatuses", [])
    return statuses[0] if statuses else {}


def test_a_debian_python_image_answers_http_on_its_pod_ip(
    python_node: tuple[platform.PlatformState, Path],
) -> None:
    state, _ = python_node
    pod = _run(state, _http_pod("hello-http"))
    pod_ip = pod["status"]["podIP"]  # type: ignore[index]
    # From the host, through the node's veth and bridge: the route the platform added, no other.
    with urllib.request.urlopen(f"http://{pod_ip}:8080/index.html", timeout=5) as response:
        assert response.read() == PAGE


def test_kubectl_exec_runs_inside_the_container_as_its_user(
    python_node: tuple[platform.PlatformState, Path],
) -> None:
    state, _ = python_node
    _run(state, _http_pod("exec-me"))
    said = platform.kubectl(
        state, "exec", "exec-me", "--", "python3", "-c", "import os; print(os.getuid())"
    )
    assert said.strip() == "65534"


def test_a_sigkilled_container_is_restarted_and_ready_again(
    python_node: tuple[platform.PlatformState, Path],
) -> None:
    state, run_dir = python_node
    _run(state, _http_pod("kill-me"))
    container_id = _container(state, "kill-me")["containerID"].removeprefix("containerd://")
    realnode.ctr(run_dir, "primary", "tasks", "kill", "--signal=SIGKILL", container_id)
    net.wait_until(
        lambda: (
            _container(state, "kill-me").get("restartCount") == 1
            and _container(state, "kill-me").get("ready") is True
        ),
        what="kill-me restarted and Ready",
        timeout=60,
    )
    assert _container(state, "kill-me")["lastState"]["terminated"]["exitCode"] == 137


def test_a_container_over_its_memory_limit_is_oom_killed(
    python_node: tuple[platform.PlatformState, Path],
) -> None:
    state, _ = python_node
    hungry = _pod("hungry", HTTP_IMAGE, ["python3", "-c", "b = bytearray(256 * 2**20); input()"])
    assert _run_to_end(state, hungry, timeout=60)["reason"] == "OOMKilled"


def test_kubectl_port_forward_reaches_the_pod_from_host_loopback(
    python_node: tuple[platform.PlatformState, Path],
) -> None:
    state, _ = python_node
    _run(state, _http_pod("forward-me"))
    port = net.free_ports(1)[0]
    kubectl = [str(Path(state.bin_dir) / "kubectl"), f"--kubeconfig={state.kubeconfig}"]
    forward = subprocess.Popen(
        [*kubectl, "port-forward", f"--address={net.LOOPBACK}", "pod/forward-me", f"{port}:8080"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://{net.LOOPBACK}:{port}/index.html"
        net.wait_until(lambda: net.http_ok(url), what="the forwarded port", timeout=30)
        with urllib.request.urlopen(url, timeout=5) as response:
            assert response.read() == PAGE
    finally:
        forward.terminate()
        forward.wait()
