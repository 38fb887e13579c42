"""The platform's Prometheus: the pinned 3.x build, on loopback, finding the release operator's pods
through the apiserver under its own read-only identity and the host processes from files; every
analysis query in `crds/examples` gives a number against what it scraped."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from meridian.core.api.v1alpha1 import servicerelease
from meridian.localplatform import platform, prometheus
from meridian.operators.release import prometheus as release_prometheus
from meridian.operators.release import resources, revision
from tests import kit_target
from tests.waiting import eventually

EXAMPLES = Path(__file__).resolve().parents[2] / "crds" / "examples"


async def _value(url: str, promql: str) -> float | None:
    """What the release operator's client makes of the query (None: no single number)."""
    async with aiohttp.ClientSession() as session:
        return (await release_prometheus.query(session, url, promql)).value


async def _api(url: str, path: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(f"{url}{path}") as response:
        assert response.status == 200, await response.text()
        return (await response.json())["data"]


async def test_a_loopback_prometheus_of_the_pinned_build(prometheus_url: str) -> None:
    assert prometheus_url.startswith("http://127.0.0.1:")
    build = await _api(prometheus_url, "/api/v1/status/buildinfo")
    assert build["version"] == "3.16.0"
    flags = await _api(prometheus_url, "/api/v1/status/flags")
    assert flags["web.listen-address"].startswith("127.0.0.1:")
    assert flags["storage.tsdb.retention.time"] == prometheus.RETENTION


def _example_spec() -> servicerelease.ServiceReleaseSpec:
    raw = yaml.safe_load((EXAMPLES / "servicerelease.yaml").read_text())
    return servicerelease.ServiceReleaseSpec.model_validate(raw["spec"])


def _pod(namespace: str, name: str, node: str, port: int) -> dict[str, Any]:
    """A canary pod exactly as the release operator's Deployment renders it, bound to `node`."""
    spec = _example_spec()
    release = resources.Release(
        name="orders", namespace=namespace, uid=str(uuid.uuid4()), spec=spec
    )
    template = revision.template_of(spec)
    rendered = resources.deployment(release, "canary", template, revision.hash_of(template), 1)
    pod_template = rendered["spec"]["template"]
    annotations = {**pod_template["metadata"]["annotations"], prometheus.PORT_ANNOTATION: str(port)}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": pod_template["metadata"]["labels"],
            "annotations": annotations,
        },
        "spec": {
            **pod_template["spec"],
            "nodeName": node,
            "nodeSelector": {},
            "tolerations": [],
        },
    }


@pytest.fixture
def pods_namespace(local_platform: platform.PlatformState, namespace_name: str) -> Iterator[str]:
    platform.kubectl(local_platform, "create", "namespace", namespace_name)
    yield namespace_name
    platform.kubectl(local_platform, "delete", "namespace", namespace_name, "--wait=false")
    for node in (f"{namespace_name}-real-0", f"{namespace_name}-fake-0"):
        platform.kubectl(local_platform, "delete", "node", node, "--ignore-not-found")


def _running_on(state: platform.PlatformState, pod: dict[str, Any]) -> None:
    """Create the node (no kubelet or kwok manages it) and the pod, and report the pod Running
    at 127.0.0.1 as a kubelet would: so the scrape discovery sets up stays on loopback."""
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": pod["spec"]["nodeName"]}}
    for manifest in (node, pod):
        platform.kubectl(state, "apply", "-f", "-", stdin=json.dumps(manifest))
    status = {"phase": "Running", "podIP": "127.0.0.1", "podIPs": [{"ip": "127.0.0.1"}]}
    platform.kubectl(
        state,
        "patch",
        "pod",
        pod["metadata"]["name"],
        "-n",
        pod["metadata"]["namespace"],
        "--subresource=status",
        "--type=merge",
        "-p",
        json.dumps({"status": status}),
    )


async def test_a_release_pod_on_a_real_node_is_discovered_through_the_apiserver_and_scraped(
    local_platform: platform.PlatformState, prometheus_url: str, pods_namespace: str
) -> None:
    async with kit_target.serving() as served:
        port = int(served.address.rsplit(":", 1)[1])
        _running_on(
            local_platform, _pod(pods_namespace, "on-real", f"{pods_namespace}-real-0", port)
        )
        # The same pod on a node that is not a real one: discovered, never scraped.
        _running_on(
            local_platform, _pod(pods_namespace, "on-fake", f"{pods_namespace}-fake-0", port)
        )
        selector = f'namespace="{pods_namespace}",service="orders",release="orders",role="canary"'

        async def scraped() -> bool:
            """the real node's pod is scraped with the labels the analysis selects on"""
            return await _value(prometheus_url, f'up{{{selector},pod="on-real"}}') == 1.0

        await eventually(scraped, within=90)
        requests = f'sum(http_requests_total{{{selector},route="/v1/orders"}})'
        assert (await _value(prometheus_url, requests) or 0) > 0
        revision_label = f'count(up{{{selector},revision=~"[0-9a-f]+"}})'
        assert await _value(prometheus_url, revision_label) == 1.0
        targets = await _api(prometheus_url, "/api/v1/targets?state=dropped")
        dropped = [
            target["discoveredLabels"].get("__meta_kubernetes_pod_name")
            for target in targets["droppedTargets"]
            if target["discoveredLabels"].get("__meta_kubernetes_namespace") == pods_namespace
        ]
        assert "on-fake" in dropped
        assert await _value(prometheus_url, 'count(up{pod="on-fake"})') is None


def _example_queries() -> list[str]:
    found = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") == "ServiceRelease":
                spec = servicerelease.ServiceReleaseSpec.model_validate(document["spec"])
                found += [
                    step.analysis.query for step in spec.strategy.canary_steps if step.analysis
                ]
    return found


async def test_every_example_analysis_query_gives_a_number(
    local_platform: platform.PlatformState, prometheus_url: str
) -> None:
    queries = _example_queries()
    assert len(queries) >= 2
    run_dir = Path(local_platform.run_dir)
    labels = {"service": "orders", "namespace": "meridian-prod", "release": "orders"}
    group = f"examples-{uuid.uuid4().hex[:6]}"
    async with kit_target.serving(error_every=10) as served:
        prometheus.register(
            run_dir, group, [prometheus.Target(served.address, labels | {"role": "canary"})]
        )
        try:
            for query in queries:

                async def answered(query: str = query) -> float | None:
                    """the example's query gives one number"""
                    value = await _value(prometheus_url, query)
                    return value if value is not None and value > 0 else None

                await eventually(answered, within=90)
            error_ratio, p99 = [await _value(prometheus_url, query) for query in queries[:2]]
        finally:
            prometheus.unregister(run_dir, group)
    assert error_ratio is not None
    assert 0.05 <= error_ratio <= 0.15  # every 10th request fails
    assert p99 is not None
    assert 0 < p99 < 1
