"""The ServiceRelease operator at scale: 50 releases (3 replicas each, on kwok nodes) at once.

Prints, beside a baseline from the same run (the same 50 Deployments, Services and PDBs the
operator renders, applied directly with kubectl): seconds from apply to all Available, then from
a new image on all 50 to all Available at it. The operator runs with its shipped settings (a
5 s tick), so the figure is what a user would see.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from meridian.core.api.v1alpha1 import servicerelease
from meridian.localplatform import platform
from meridian.localplatform.processes import Supervisor
from meridian.operators.release import resources, revision
from tests.bench.figures import _row, peak_rss_mib

COUNT = 50
REPLICAS = 3
IMAGES = ("ghcr.io/meridian/orders:1.0.0", "ghcr.io/meridian/orders:1.1.0")


def _spec(image: str) -> dict[str, Any]:
    return {
        "service": "orders",
        "image": image,
        "replicas": REPLICAS,
        "resources": {"limits": {"cpu": "100m", "memory": "64Mi"}},
        "disruptionBudget": {"maxUnavailable": 1},
        "strategy": {"type": "RollingUpdate"},
    }


def _release(namespace: str, name: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "meridian.io/v1alpha1",
        "kind": "ServiceRelease",
        "metadata": {"name": name, "namespace": namespace},
        "spec": _spec(image),
    }


def _plain(namespace: str, name: str, image: str) -> list[dict[str, Any]]:
    """What the operator renders for one release, without the release (no owner)."""
    spec = servicerelease.ServiceReleaseSpec.model_validate(_spec(image))
    release = resources.Release(name=name, namespace=namespace, uid="", spec=spec)
    template = revision.template_of(spec)
    found = [
        *resources.fixed(release),
        resources.deployment(release, "stable", template, revision.hash_of(template), REPLICAS),
    ]
    for manifest in found:
        del manifest["metadata"]["ownerReferences"]
    return found


def _apply(state: platform.PlatformState, objects: list[dict[str, Any]]) -> None:
    items = json.dumps({"apiVersion": "v1", "kind": "List", "items": objects})
    platform.kubectl(state, "apply", "--server-side", "-f", "-", stdin=items)


def _wait(what: str, done: Callable[[], bool], timeout: float = 900) -> float:
    started = time.monotonic()
    while not done():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"{what} not within {timeout} s")
        time.sleep(0.5)
    return time.monotonic() - started


def _deployments_available(state: platform.PlatformState, namespace: str, image: str) -> bool:
    found = json.loads(platform.kubectl(state, "get", "deployments", "-n", namespace, "-o", "json"))
    done = [
        d
        for d in found["items"]
        if d["spec"]["template"]["spec"]["containers"][0]["image"] == image
        and d["status"].get("observedGeneration") == d["metadata"]["generation"]
        and d["status"].get("updatedReplicas") == REPLICAS
        and d["status"].get("availableReplicas") == REPLICAS
        and d["status"].get("replicas") == REPLICAS
    ]
    return len(done) == COUNT


def _releases_available(state: platform.PlatformState, namespace: str, image: str) -> bool:
    found = json.loads(
        platform.kubectl(state, "get", "servicereleases", "-n", namespace, "-o", "json")
    )
    done = 0
    for item in found["items"]:
        status = item.get("status") or {}
        stable = [h for h in status.get("history", []) if h["hash"] == status.get("stableRevision")]
        conditions = {c["type"]: c["status"] for c in status.get("conditions", [])}
        if (
            stable
            and stable[0]["template"]["image"] == image
            and status.get("phase") == "Healthy"
            and conditions.get("Available") == "True"
        ):
            done += 1
    return done == COUNT


@pytest.mark.timeout(2400)
def test_50_releases_rolled_at_once_beside_50_deployments(
    local_platform: platform.PlatformState, tmp_path: Path
) -> None:
    print(f"\n== ServiceRelease operator: {COUNT} releases x {REPLICAS} replicas on kwok ==")
    prefix = f"b{uuid.uuid4().hex[:4]}"
    plain, released = f"{prefix}-plain", f"{prefix}-releases"
    for namespace in (plain, released):
        platform.kubectl(local_platform, "create", "namespace", namespace)
    names = [f"svc-{i:02}" for i in range(COUNT)]
    supervisor = Supervisor(tmp_path / "run")
    try:
        figures: dict[str, float] = {}
        for step, image in zip(("create", "roll"), IMAGES, strict=True):
            started = time.monotonic()
            _apply(local_platform, [m for n in names for m in _plain(plain, n, image)])
            figures[f"plain-{step}"] = (
                time.monotonic()
                - started
                + _wait(
                    f"{COUNT} Deployments available at {image}",
                    lambda image=image: _deployments_available(local_platform, plain, image),
                )
            )

        platform.start_operators(
            local_platform,
            supervisor=supervisor,
            name="operator",
            only="release",
            env={"MERIDIAN_OPERATOR_PEERING_NAME": f"bench-{prefix}"},
        )
        for step, image in zip(("create", "roll"), IMAGES, strict=True):
            started = time.monotonic()
            _apply(local_platform, [_release(released, n, image) for n in names])
            figures[f"release-{step}"] = (
                time.monotonic()
                - started
                + _wait(
                    f"{COUNT} ServiceReleases Available at {image}",
                    lambda image=image: _releases_available(local_platform, released, image),
                )
            )
        _row(
            f"{COUNT} ServiceReleases applied -> all Available (s)",
            f"{figures['release-create']:.1f}",
            f"baseline: {COUNT} Deployments applied {figures['plain-create']:.1f} s",
        )
        _row(
            f"{COUNT} ServiceReleases rolled at once -> all Available (s)",
            f"{figures['release-roll']:.1f}",
            f"baseline: {COUNT} Deployments rolled {figures['plain-roll']:.1f} s",
        )
        _row("operator peak RSS (MiB)", f"{peak_rss_mib(supervisor.records()[0].pid):.0f}")
    finally:
        supervisor.stop_all()
        for namespace in (plain, released):
            platform.kubectl(local_platform, "delete", "namespace", namespace, "--wait=false")
