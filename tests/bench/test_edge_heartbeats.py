"""The EdgeNode operator under a fleet's heartbeats: 1,000 nodes renewing their Leases every 10 s.

Prints, beside a baseline from the same run (the same number of bare Lease renewals with the
Kubernetes client in a loop, no operator): apiserver requests/s, the renewer's CPU per node, the
operator's CPU (share of one core) and peak RSS while the fleet heartbeats, how long enrolment of
the fleet took, and the detection time of 10 nodes that stop renewing (goal: grace + 10 s).
The renewer stands in for the agents (one asyncio loop, one client); `test_edge_agents` runs the
real agent class.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

import httpx2
import pytest
import yaml
from lightkube import AsyncClient
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import Namespace
from lightkube.types import PatchType

from meridian.core.api.v1alpha1 import edgenode
from meridian.localplatform import platform
from meridian.localplatform.processes import Supervisor
from meridian.operators.edge import rollout
from tests import edge_nodes
from tests.bench.figures import _row, cpu_seconds, peak_rss_mib
from tests.metrics import apiserver_requests
from tests.waiting import eventually

COUNT = int(os.environ.get("MERIDIAN_TEST_EDGE_BENCH_NODES", "1000"))
STOPPED = 10
INTERVAL_S = 10.0
MEASURE_S = float(os.environ.get("MERIDIAN_TEST_EDGE_BENCH_SECONDS", "120"))
GRACE_S = 50.0
IN_FLIGHT = 64


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


async def _renew_all(
    client: AsyncClient, namespace: str, names: Iterable[str], stop: asyncio.Event
) -> int:
    """Every name's Lease renewed every INTERVAL_S, spread evenly over the interval, each renewal
    its own request (at most IN_FLIGHT at once), so a slow apiserver delays renewals rather than
    stretching the interval; returns the renewals made."""
    names = list(names)
    done = 0
    in_flight = asyncio.Semaphore(IN_FLIGHT)
    pending: set[asyncio.Task[None]] = set()

    async def renew(name: str) -> None:
        nonlocal done
        async with in_flight:
            patch = {"spec": {"renewTime": _now()}}
            try:
                await client.patch(
                    Lease, name, patch, namespace=namespace, patch_type=PatchType.MERGE
                )
            except httpx2.TimeoutException:
                return  # a missed renewal, as an agent behind a slow link would have
            done += 1

    while not stop.is_set():
        started = time.monotonic()
        for index, name in enumerate(names):
            if stop.is_set():
                break
            due = started + INTERVAL_S * index / len(names)
            if (pause := due - time.monotonic()) > 0:
                await asyncio.sleep(pause)
            task = asyncio.create_task(renew(name))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if (rest := started + INTERVAL_S - time.monotonic()) > 0 and not stop.is_set():
            await asyncio.sleep(rest)
    await asyncio.gather(*pending)
    return done


async def _renewing(
    client: AsyncClient, namespace: str, names: list[str], seconds: float
) -> tuple[float, float, int]:
    """Renew for `seconds`: (renewer CPU s, wall s, renewals)."""
    stop = asyncio.Event()
    cpu, wall = time.process_time(), time.monotonic()
    task = asyncio.create_task(_renew_all(client, namespace, names, stop))
    await asyncio.sleep(seconds)
    stop.set()
    renewals = await task
    return time.process_time() - cpu, time.monotonic() - wall, renewals


async def _ready(client: AsyncClient, names: set[str]) -> dict[str, str]:
    """Each node's Ready status (none when the list timed out under load: ask again)."""
    try:
        return await _ready_once(client, names)
    except httpx2.TimeoutException:
        return {}


async def _ready_once(client: AsyncClient, names: set[str]) -> dict[str, str]:
    found = {}
    async for item in client.list(rollout.RESOURCE):
        body = item.to_dict()
        if body["metadata"]["name"] in names:
            conditions = (body.get("status") or {}).get("conditions") or []
            found[body["metadata"]["name"]] = next(
                (c["status"] for c in conditions if c["type"] == "Ready"), "none"
            )
    return found


@pytest.mark.timeout(3600)
async def test_a_thousand_nodes_heartbeating(
    local_platform: platform.PlatformState, kube_client: AsyncClient, tmp_path: Path
) -> None:
    print(f"\n== EdgeNode operator: {COUNT} nodes renewing every {INTERVAL_S:g} s ==")
    stem = uuid.uuid4().hex[:4]
    leases = ("leases",)

    # Baseline: bare Leases, the same renewals, no operator.
    bare = f"bench-leases-{stem}"
    await kube_client.create(Namespace(metadata=ObjectMeta(name=bare)))
    names = [f"bare-{i:04d}" for i in range(COUNT)]
    for name in names:
        await kube_client.create(Lease(metadata=ObjectMeta(name=name, namespace=bare)))
    requests = apiserver_requests(local_platform, leases, writes_only=False)
    cpu, wall, renewals = await _renewing(kube_client, bare, names, MEASURE_S)
    baseline_rate = (
        apiserver_requests(local_platform, leases, writes_only=False) - requests
    ) / wall
    baseline_cpu = cpu / COUNT / wall * 1000
    platform.kubectl(local_platform, "delete", "namespace", bare, "--wait=false")

    supervisor = Supervisor(tmp_path / "run")
    nodes = [f"bench-{stem}-{i:04d}" for i in range(COUNT)]
    try:
        platform.start_operators(
            local_platform,
            supervisor=supervisor,
            name="edge-operator",
            only="edge",
            env={"MERIDIAN_OPERATOR_PEERING_NAME": f"bench-{stem}"},
        )
        documents = [
            edge_nodes.site_manifest(name, f"site{i % 3}", host=i % 250 + 1)
            for i, name in enumerate(nodes)
        ]
        started = time.monotonic()
        platform.kubectl(
            local_platform, "apply", "--server-side", "-f", "-", stdin=yaml.safe_dump_all(documents)
        )

        async def assessed() -> bool:
            """every node enrolled and assessed (a Ready condition)"""
            ready = await _ready(kube_client, set(nodes))
            return len(ready) == COUNT and "none" not in ready.values()

        await eventually(assessed, within=1800, interval=2)
        enrolled_s = time.monotonic() - started

        # The fleet heartbeats: every node Ready, then measured for MEASURE_S.
        stop = asyncio.Event()
        fleet = asyncio.create_task(_renew_all(kube_client, edgenode.EDGE_NAMESPACE, nodes, stop))

        async def all_ready() -> bool:
            """every node Ready from its renewals"""
            return set((await _ready(kube_client, set(nodes))).values()) == {"True"}

        await eventually(all_ready, within=300, interval=2)
        requests = apiserver_requests(local_platform, leases, writes_only=False)
        operator_cpu = cpu_seconds(tmp_path / "run")["edge-operator"]
        cpu, wall = time.process_time(), time.monotonic()
        await asyncio.sleep(MEASURE_S)
        wall = time.monotonic() - wall
        renewer_cpu = (time.process_time() - cpu) / COUNT / wall * 1000
        rate = (apiserver_requests(local_platform, leases, writes_only=False) - requests) / wall
        operator_share = (cpu_seconds(tmp_path / "run")["edge-operator"] - operator_cpu) / wall
        (record,) = supervisor.records()
        rss = peak_rss_mib(record.pid)

        # Ten nodes stop renewing: how long until the operator says so.
        stop.set()
        await fleet
        dead = set(nodes[:STOPPED])
        stop = asyncio.Event()
        fleet = asyncio.create_task(
            _renew_all(kube_client, edgenode.EDGE_NAMESPACE, nodes[STOPPED:], stop)
        )
        stopped_at = time.monotonic()
        detected: dict[str, float] = {}
        while len(detected) < STOPPED and time.monotonic() - stopped_at < GRACE_S * 3:
            for name, status in (await _ready(kube_client, dead)).items():
                if status == "Unknown" and name not in detected:
                    detected[name] = time.monotonic() - stopped_at
            await asyncio.sleep(0.5)
        false_alarms = [
            name
            for name, status in (await _ready(kube_client, set(nodes[STOPPED:]))).items()
            if status != "True"
        ]
        stop.set()
        await fleet
    finally:
        supervisor.stop_all()
        platform.kubectl(
            local_platform,
            "delete",
            "clusterkopfpeering",
            f"bench-{stem}-edge",
            "--ignore-not-found",
        )

    print(f"  {renewals} baseline renewals in {wall:.0f} s")
    _row("apiserver lease requests/s", f"{rate:.1f}", f"bare renewals: {baseline_rate:.1f}")
    _row("renewer CPU per node (ms CPU / s)", f"{renewer_cpu:.3f}", f"bare: {baseline_cpu:.3f}")
    _row("operator CPU (share of one core)", f"{operator_share:.1%}", "goal < 10 %")
    _row("operator peak RSS (MiB)", f"{rss:.0f}")
    _row(f"enrolment of {COUNT} nodes until all assessed (s)", f"{enrolled_s:.0f}")
    worst = max(detected.values(), default=float("inf"))
    _row(
        f"detection of {STOPPED} stopped nodes, worst (s)",
        f"{worst:.1f}",
        f"goal <= {GRACE_S + 10:g}",
    )
    _row("nodes still renewing reported not Ready", f"{len(false_alarms)}", "goal 0")
    # Correctness is asserted; the goals (detection <= grace + 10 s, operator < 10 % of a
    # core) are printed beside each figure. On a loaded 2-core machine, 2026-11-27:
    # - kopf handling every Lease event, a daemon tick per node: 99.6 (bare 84.5) lease
    #   requests/s, 36.9 % of a core, 285 MiB, detection 67.6 s: both goals missed; rerun beside
    #   the next version (load average 15-22) it never had all 1,000 nodes Ready at once in 300 s
    #   (917 at best: it fell behind the renewals and expired live nodes).
    # - one Lease watch and one sweep (same run, load average 11-17): 34.5 (bare 39.4) lease
    #   requests/s, 5.5 % of a core, 317 MiB, detection 55.0 s, no false alarm: both goals met.
    assert len(detected) == STOPPED, detected
    assert not false_alarms
