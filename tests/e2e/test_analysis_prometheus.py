"""The release operator's canary analysis end to end: the operator process (its own identity, as in
`test_release_operator`) gets the platform's Prometheus URL from the platform alone, and decides
on what that Prometheus scraped from a canary serving traffic.

kwok's pods serve nothing, so the canary's metrics come from a service on the kit's runtime
running here, scraped as a host process under the labels the release's canary pods would carry
(`namespace`, `release`, `role="canary"`); the query is the example's error ratio. A healthy
canary is promoted after its measurements pass; one failing a third of its requests is aborted by
analysis, traffic back on the stable.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import yaml
from lightkube import AsyncClient

from meridian.core.api.v1alpha1.servicerelease import ServiceReleaseSpec
from meridian.core.runtime import client
from meridian.localplatform import platform, prometheus
from meridian.operators.release import prometheus as release_prometheus
from tests import kit_target
from tests.e2e import test_release_operator as release_e2e
from tests.waiting import eventually

EXAMPLE = Path(__file__).resolve().parents[2] / "crds" / "examples" / "servicerelease.yaml"
STABLE, CANARY = "ghcr.io/meridian/orders:1.0.0", "ghcr.io/meridian/orders:2.0.0"

# The release operator under its own ClusterRole, and a namespace per test (that module's).
operator = release_e2e.operator
namespace = release_e2e.namespace


@pytest.fixture(autouse=True)
def _prometheus_first(prometheus_url: str) -> None:
    """Prometheus runs before the operator starts: the operator reads its URL from the platform."""


def _analysis(namespace: str) -> dict[str, Any]:
    spec = ServiceReleaseSpec.model_validate(yaml.safe_load(EXAMPLE.read_text())["spec"])
    example = next(step.analysis for step in spec.strategy.canary_steps if step.analysis)
    query = example.query.replace('namespace="meridian-prod"', f'namespace="{namespace}"')
    return {
        "query": query,
        "successCondition": example.success_condition,
        "failureCondition": example.failure_condition,
        "interval": "1s",
        "count": 3,
    }


@pytest_asyncio.fixture(loop_scope="session")
async def canary_serving(
    local_platform: platform.PlatformState,
    prometheus_url: str,
    namespace: str,
    request: pytest.FixtureRequest,
) -> AsyncIterator[str]:
    """The canary's traffic (every Nth request failing), scraped with its pods' labels; yields
    once Prometheus has a request rate for it."""
    run_dir = Path(local_platform.run_dir)
    labels = {"service": "orders", "namespace": namespace, "release": "orders", "role": "canary"}
    async with kit_target.serving(error_every=request.param) as served:
        prometheus.register(run_dir, namespace, [prometheus.Target(served.address, labels)])
        try:
            rate = f'sum(rate(http_requests_total{{namespace="{namespace}"}}[1m]))'

            async def measured() -> bool:
                """Prometheus has a request rate for the canary"""
                async with client.create_session() as session:
                    answer = await release_prometheus.query(session, prometheus_url, rate)
                return (answer.value or 0) > 0

            await eventually(measured, within=90)
            yield namespace
        finally:
            prometheus.unregister(run_dir, namespace)


async def _rolled_out(client_: AsyncClient, namespace: str) -> None:
    steps = [{"setWeight": 50}, {"analysis": _analysis(namespace)}, {"setWeight": 100}]
    body = release_e2e._release(namespace, {"type": "Canary", "canarySteps": steps})
    await client_.create(release_e2e.ServiceRelease(body))
    await release_e2e._healthy_at(client_, namespace, STABLE)
    await release_e2e._patch(client_, namespace, {"image": CANARY})


@pytest.mark.parametrize("canary_serving", [0], indirect=True)
async def test_the_operator_promotes_a_canary_whose_metrics_are_healthy(
    kube_client: AsyncClient, canary_serving: str
) -> None:
    await _rolled_out(kube_client, canary_serving)
    status = await release_e2e._healthy_at(kube_client, canary_serving, CANARY)
    (run,) = status["analysisRuns"]
    assert run["phase"] == "Successful"
    assert [m["value"] for m in run["measurements"]] == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("canary_serving", [3], indirect=True)
async def test_the_operator_aborts_a_canary_whose_requests_fail(
    kube_client: AsyncClient, canary_serving: str
) -> None:
    await _rolled_out(kube_client, canary_serving)

    async def aborted() -> dict[str, Any] | None:
        """the release was aborted by its analysis"""
        status = await release_e2e._status(kube_client, canary_serving)
        return status if status.get("phase") == "Aborted" else None

    status = await eventually(aborted, within=120)
    assert status["abort"]["reason"] == "AnalysisFailed"
    (run,) = status["analysisRuns"]
    assert run["phase"] == "Failed"
    assert 0.2 < run["measurements"][-1]["value"] < 0.45
    assert status.get("canaryWeight", 0) == 0
    stable = [h for h in status["history"] if h["hash"] == status["stableRevision"]]
    assert [h["template"]["image"] for h in stable] == [STABLE]
