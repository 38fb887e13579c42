"""Figures for the local platform and the operator runtime, each beside a baseline from this run.

Not part of `make test` (no timed assertions): `make bench` prints them. What it measures:
- start-up: control plane to Ready nodes, and the datastores, beside a bare etcd's start;
- idle RSS of every platform process (process group);
- the operators' reconcile throughput: 400 EdgeNodes applied at once until all are observed,
  beside the same 400 objects as ConfigMaps (apiserver + kubectl only, no operator);
- API writes by the operators during 30 s of idle (goal 0), from the apiserver's own metrics.
"""

from __future__ import annotations

import re
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml

from meridian.localplatform import gobuild, net, platform
from meridian.localplatform.processes import ProcessSpec, Supervisor
from tests import edge_nodes
from tests.bench.figures import _apiserver_writes, _row, peak_rss_mib

COUNT = 400


@pytest.mark.timeout(600)
def test_platform_start_up_and_idle_memory() -> None:
    print("\n== local platform start-up (warm binary cache) ==")
    bins = gobuild.ensure_built()
    base = platform.default_run_dir().parent
    etcd_dir = base / f"bench-etcd-{uuid.uuid4().hex[:6]}"
    supervisor = Supervisor(etcd_dir)
    (port, peer) = net.free_ports(2)
    started = time.monotonic()
    supervisor.start(
        ProcessSpec(
            "etcd",
            [
                str(bins / "etcd"),
                f"--data-dir={etcd_dir / 'data'}",
                f"--listen-client-urls=http://127.0.0.1:{port}",
                f"--advertise-client-urls=http://127.0.0.1:{port}",
                f"--listen-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-advertise-peer-urls=http://127.0.0.1:{peer}",
                f"--initial-cluster=default=http://127.0.0.1:{peer}",
            ],
        )
    )
    supervisor.wait_ready(
        "etcd", lambda: net.http_ok(f"http://127.0.0.1:{port}/health"), timeout=30
    )
    etcd_seconds = time.monotonic() - started
    supervisor.stop_all()

    run_dir = base / f"bench-{uuid.uuid4().hex[:6]}"
    try:
        started = time.monotonic()
        platform.up(run_dir, datastores=False)
        control_plane = time.monotonic() - started
        started = time.monotonic()
        platform.up(run_dir, pg_standby=True)
        datastores = time.monotonic() - started
        _row(
            "control plane to Ready nodes (s)",
            f"{control_plane:.1f}",
            f"baseline: bare etcd healthy {etcd_seconds:.2f} s",
        )
        _row("PostgreSQL + standby, Redis, RabbitMQ ready (s)", f"{datastores:.1f}")
        time.sleep(15)
        print("== idle RSS after 15 s (process group) ==")
        rows = platform.status(run_dir)
        for row in rows:
            _row(row.name, f"{row.rss_bytes / 2**20:.0f} MiB")
        _row("total", f"{sum(r.rss_bytes for r in rows) / 2**20:.0f} MiB")
    finally:
        platform.down(run_dir)


@pytest.mark.timeout(1200)
def test_operator_reconcile_throughput_and_idle_writes(
    local_platform: platform.PlatformState, tmp_path: Path
) -> None:
    print(f"\n== {COUNT} objects applied at once ==")
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    platform.kubectl(local_platform, "create", "namespace", namespace)
    configmaps = [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"cm-{i}", "namespace": namespace},
            "data": {"k": "v"},
        }
        for i in range(COUNT)
    ]
    started = time.monotonic()
    platform.kubectl(
        local_platform, "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump_all(configmaps)
    )
    baseline = time.monotonic() - started

    supervisor = Supervisor(tmp_path / "run")
    prefix = f"bench-{uuid.uuid4().hex[:4]}"
    nodes = [
        edge_nodes.manifest(f"{prefix}-{i}", labels={"meridian.io/bench": prefix}, host=i)
        for i in range(COUNT)
    ]
    try:
        ports = platform.start_operators(
            local_platform,
            supervisor=supervisor,
            name="operator",
            only="edge",
            # A short resync, so that the idle window below spans several level-triggered rounds.
            env={
                "MERIDIAN_OPERATOR_PEERING_NAME": namespace,
                "MERIDIAN_OPERATOR_RESYNC_SECONDS": "10",
            },
        )
        started = time.monotonic()
        platform.kubectl(
            local_platform, "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump_all(nodes)
        )
        while _observed(local_platform, prefix) < COUNT:
            if time.monotonic() - started > 600:
                raise AssertionError("EdgeNodes not observed within 600 s")
            time.sleep(1)
        operator_seconds = time.monotonic() - started
        _row(
            f"{COUNT} EdgeNodes applied -> all observed by the operator (s)",
            f"{operator_seconds:.1f}",
            f"baseline: {COUNT} ConfigMaps applied {baseline:.1f} s",
        )
        _row("operator peak RSS (MiB)", f"{peak_rss_mib(supervisor.records()[0].pid):.0f}")
        before = _apiserver_writes(local_platform, "meridian.io")
        reconciles = _reconciles(ports)
        time.sleep(30)
        after = _apiserver_writes(local_platform, "meridian.io")
        _row(
            "meridian.io API writes during 30 s idle (goal 0)",
            f"{after - before:.0f}",
            f"while resync ran {_reconciles(ports) - reconciles:.0f} reconciles (every 10 s)",
        )
        started = time.monotonic()
        platform.kubectl(
            local_platform, "delete", "configmaps", "-n", namespace, "--all", "--wait=false"
        )
        _wait_gone(local_platform, "configmaps", prefix="cm-", namespace=namespace)
        baseline = time.monotonic() - started
        started = time.monotonic()
        _delete_edge_nodes(local_platform, prefix)
        _wait_gone(local_platform, "edgenodes", prefix=prefix)
        _row(
            f"{COUNT} EdgeNodes deleted, kopf finalizers released (s)",
            f"{time.monotonic() - started:.1f}",
            f"baseline: {COUNT} ConfigMaps deleted {baseline:.1f} s",
        )
    finally:
        # Deleted while the operator runs, so that it releases kopf's finalizers.
        _delete_edge_nodes(local_platform, prefix)
        _wait_gone(local_platform, "edgenodes", prefix=prefix)
        supervisor.stop_all()
        platform.kubectl(local_platform, "delete", "namespace", namespace, "--wait=false")


def _delete_edge_nodes(state: platform.PlatformState, prefix: str) -> None:
    # By label, in one request: naming 400 objects makes kubectl fetch each one, rate-limited.
    platform.kubectl(
        state, "delete", "edgenodes", "-l", f"meridian.io/bench={prefix}", "--wait=false"
    )


def _wait_gone(
    state: platform.PlatformState, resource: str, *, prefix: str, namespace: str = ""
) -> None:
    scope = ["-n", namespace] if namespace else []
    deadline = time.monotonic() + 600
    while any(
        name.startswith(prefix)
        for name in platform.kubectl(state, "get", resource, *scope, "-o", "name").split()
        for name in [name.split("/", 1)[1]]
    ):
        if time.monotonic() > deadline:
            raise AssertionError(f"{resource} {prefix}* still present after 600 s")
        time.sleep(0.5)


def _reconciles(ports: platform.OperatorPorts) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{ports.metrics}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = re.search(
        r'^meridian_operator_reconciles_total\{kind="EdgeNode",result="ok"\} ([0-9.]+)$', text, re.M
    )
    return float(found.group(1)) if found else 0.0


def _observed(state: platform.PlatformState, prefix: str) -> int:
    out = platform.kubectl(
        state,
        "get",
        "edgenodes",
        "-o",
        'jsonpath={range .items[*]}{.metadata.name} {.status.observedGeneration}{"\\n"}{end}',
    )
    return sum(1 for line in out.splitlines() if line.startswith(prefix) and len(line.split()) == 2)
