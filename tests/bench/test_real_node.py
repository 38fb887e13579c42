"""Figures for the real node, each beside its baseline from the same run (printed, not asserted).

- pod create -> Ready, p50/p99 over 50 pods applied at once to the real node, beside the same 50
  pods on kwok's fake nodes of the same cluster (kwok only marks them Ready: the gap is what a
  real sandbox, cgroup, veth and pause container cost);
- kubelet and containerd idle: CPU over 30 s, and RSS (process group), node Ready and no pod.

Latency is timed here, not from the pods' timestamps (the apiserver keeps whole seconds): the
time a `kubectl get --watch` line first shows the pod Ready, minus when the apply was sent.
"""

from __future__ import annotations

import json
import queue
import shutil
import statistics
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from meridian.localplatform import net, pauseimage, platform, realnode
from tests.bench.figures import _row, cpu_seconds
from tests.e2e.real_node.test_real_node import _exists, _pod

PODS = 50
IDLE_SECONDS = 30


@pytest.fixture(scope="module")
def node() -> Iterator[tuple[platform.PlatformState, Path]]:
    path = platform.default_run_dir().parent / f"bench-realnode-{uuid.uuid4().hex[:8]}"
    try:
        state = platform.up(path, datastores=False, real_node=True)
        net.wait_until(
            lambda: _exists(state, "serviceaccount", "default"),
            what="the default service account",
            timeout=60,
        )
        yield state, path
    finally:
        platform.down(path)
        shutil.rmtree(path, ignore_errors=True)


def _ready_latencies(state: platform.PlatformState, group: str, real: bool) -> list[float]:
    """Apply `PODS` pause pods labelled `bench=<group>` at once; seconds until each is Ready."""
    pods = []
    for index in range(PODS):
        pod = _pod(f"{group}-{index}", pauseimage.REF, ["/pause"])
        pod["metadata"]["labels"] = {"bench": group}  # type: ignore[index]
        # Small requests, so 50 fit the node's 2 CPUs (requests default to the limits).
        pod["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "10m", "memory": "16Mi"}}  # type: ignore[index]
        if not real:  # kwok's nodes: no selector, no toleration (as every kwok test pod)
            del pod["spec"]["nodeSelector"], pod["spec"]["tolerations"]  # type: ignore[attr-defined]
        pods.append(pod)
    jsonpath = '{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\\n"}'
    kubectl = [str(Path(state.bin_dir) / "kubectl"), f"--kubeconfig={state.kubeconfig}"]
    watch = subprocess.Popen(
        [*kubectl, "get", "pods", "-l", f"bench={group}", "--watch", f"-o=jsonpath={jsonpath}"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert watch.stdout is not None
    try:
        time.sleep(1)  # the watch is established before anything is created
        sent = time.monotonic()
        platform.kubectl(
            state,
            "apply",
            "-f",
            "-",
            stdin=json.dumps({"apiVersion": "v1", "kind": "List", "items": pods}),
        )
        ready: dict[str, float] = {}
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(
            target=lambda: [lines.put(line) for line in watch.stdout], daemon=True
        ).start()  # type: ignore[union-attr]
        deadline = sent + 300
        while len(ready) < PODS and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=5)
            except queue.Empty:
                continue
            name, _, status = line.strip().partition(" ")
            if status == "True" and name not in ready:
                ready[name] = time.monotonic() - sent
    finally:
        watch.terminate()
        watch.wait()
        watch.stdout.close()
    assert len(ready) == PODS, f"only {len(ready)} of {PODS} {group} pods Ready"
    platform.kubectl(
        state, "delete", "pods", "-l", f"bench={group}", "--wait=true", "--timeout=300s"
    )
    return sorted(ready.values())


def _quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, round(q * (len(values) - 1)))]


@pytest.mark.timeout(1500)
def test_real_node_pod_latency_and_idle_cost(node: tuple[platform.PlatformState, Path]) -> None:
    state, run_dir = node
    name = realnode.node_name("primary")
    components = [f"{name}-kubelet", f"{name}-containerd"]
    time.sleep(10)  # past the start's own burst
    before = cpu_seconds(run_dir)
    time.sleep(IDLE_SECONDS)
    after = cpu_seconds(run_dir)
    rss = {row.name: row.rss_bytes for row in platform.status(run_dir)}
    print(f"\n== real node idle ({IDLE_SECONDS} s, node Ready, no pod) ==")
    for component in components:
        cpu = (after[component] - before[component]) / IDLE_SECONDS * 100
        _row(
            component.removeprefix(f"{name}-"),
            f"{cpu:.2f} % CPU",
            f"{rss[component] / 2**20:.0f} MiB RSS",
        )

    print(f"== pod create -> Ready, {PODS} pause pods applied at once ==")
    figures = {}
    for group, real in (("kwok", False), ("real", True)):
        figures[group] = _ready_latencies(state, group, real)
    for group, values in figures.items():
        where = "real node" if group == "real" else "kwok nodes (baseline)"
        _row(
            f"{where}: p50 / p99 / max",
            f"{_quantile(values, 0.5):.2f} / {_quantile(values, 0.99):.2f} / {values[-1]:.2f} s",
            f"mean {statistics.fmean(values):.2f} s",
        )
