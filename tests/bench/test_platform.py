"""Figures for the local platform and the operator runtime, each beside a baseline from this run.

Not part of `make test` (no timed assertions): `make bench` prints them. What it measures:
- start-up: control plane to Ready nodes beside a bare etcd's start, and the datastores beside
  one bare PostgreSQL's (initdb included);
- idle RSS of every platform process (process group), beside that bare etcd's and PostgreSQL's;
- the operators' reconcile throughput: 400 EdgeNodes applied at once until all are observed,
  beside the same 400 objects as ConfigMaps (apiserver + kubectl only, no operator);
- API writes by the operators during 30 s of idle (goal 0), from the apiserver's own metrics
  (`tests/e2e/test_tenant_operator.py` asserts the Tenant operator's 0 in `make test`).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import yaml

from meridian.localplatform import gobuild, net, pg, platform
from meridian.localplatform.processes import ProcessSpec, Supervisor
from tests import edge_nodes
from tests.bench.figures import _row, peak_rss_mib
from tests.metrics import apiserver_writes_in_group, reconciles

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
    # Kept running beside the platform: idle, it is the baseline of the RSS figures below.
    pg_dir = base / f"bench-pg-{uuid.uuid4().hex[:6]}"
    baselines = Supervisor(pg_dir)
    run_dir = base / f"bench-{uuid.uuid4().hex[:6]}"
    try:
        started = time.monotonic()
        pg.start(baselines, pg_dir / "postgres")
        pg_seconds = time.monotonic() - started
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
        _row(
            "PostgreSQL + standby, Redis, RabbitMQ, S3, stripe-mock ready (s)",
            f"{datastores:.1f}",
            f"baseline: one bare PostgreSQL (initdb + start) {pg_seconds:.1f} s",
        )
        time.sleep(15)
        print("== idle RSS after 15 s (process group) ==")
        # The platform's row each bare process is the baseline of.
        twins = {"etcd": "primary-etcd", "postgres-primary": "postgres-primary"}
        bare = {
            twins[record.name]: record.rss_bytes() / 2**20
            for record in (*supervisor.records(), *baselines.records())
        }
        rows = platform.status(run_dir)
        for row in rows:
            baseline = (
                f"baseline: bare {row.name} {bare[row.name]:.0f} MiB" if row.name in bare else ""
            )
            _row(row.name, f"{row.rss_bytes / 2**20:.0f} MiB", baseline)
        _row(
            "total",
            f"{sum(r.rss_bytes for r in rows) / 2**20:.0f} MiB",
            f"baseline: bare etcd + bare PostgreSQL {sum(bare.values()):.0f} MiB",
        )
    finally:
        platform.down(run_dir)
        baselines.stop_all()
        supervisor.stop_all()


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
                "MERIDIAN_OPERATOR_RESYNC_S": "10",
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
        before = apiserver_writes_in_group(local_platform, "meridian.io")
        reconciled = reconciles(ports, "EdgeNode")
        time.sleep(30)
        after = apiserver_writes_in_group(local_platform, "meridian.io")
        _row(
            "meridian.io API writes during 30 s idle (goal 0)",
            f"{after - before:.0f}",
            f"while resync ran {reconciles(ports, 'EdgeNode') - reconciled:.0f} reconciles (every 10 s)",
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


def _observed(state: platform.PlatformState, prefix: str) -> int:
    out = platform.kubectl(
        state,
        "get",
        "edgenodes",
        "-o",
        'jsonpath={range .items[*]}{.metadata.name} {.status.observedGeneration}{"\\n"}{end}',
    )
    return sum(1 for line in out.splitlines() if line.startswith(prefix) and len(line.split()) == 2)
