"""The release operator's analysis against the platform's real Prometheus, scraping a service on
the kit's runtime that serves traffic: a healthy canary passes, one whose requests fail is failed,
and a Prometheus that is down makes the run inconclusive, never a pass.

Each run is the example's error-ratio step (`crds/examples/servicerelease.yaml`) pointed at this
test's own target, measured every second by the operator's own `prometheus.measure` and decided
by `analysis.outcome`, as the reconcile does on each tick.
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml

from meridian.core.api.v1alpha1.servicerelease import AnalysisCheck, ServiceReleaseSpec
from meridian.core.api.v1alpha1.servicerelease_status import Measurement, RunPhase
from meridian.core.runtime import client
from meridian.localplatform import platform, prometheus
from meridian.localplatform.processes import Supervisor
from meridian.operators.release import analysis
from meridian.operators.release import prometheus as release_prometheus
from tests import kit_target
from tests.waiting import eventually

EXAMPLE = Path(__file__).resolve().parents[2] / "crds" / "examples" / "servicerelease.yaml"


def _check(namespace: str) -> AnalysisCheck:
    spec = ServiceReleaseSpec.model_validate(yaml.safe_load(EXAMPLE.read_text())["spec"])
    example = next(step.analysis for step in spec.strategy.canary_steps if step.analysis)
    query = example.query.replace('namespace="meridian-prod"', f'namespace="{namespace}"')
    assert query != example.query
    return example.model_copy(
        update={"query": query, "interval": "1s", "count": 3, "inconclusive_limit": 0}
    )


async def _run(url: str, check: AnalysisCheck) -> tuple[RunPhase, list[Measurement]]:
    """Measure every interval until the run is decided, as the operator does."""
    measurements: list[Measurement] = []
    async with client.create_session(total=5.0, connect=2.0) as session:
        while True:
            now = datetime.datetime.now(datetime.UTC)
            measurements.append(await release_prometheus.measure(session, url, check, now))
            phase = analysis.outcome(check, measurements)
            if phase != "Running":
                return phase, measurements
            await asyncio.sleep(analysis.seconds(check.interval))


@pytest.fixture
async def canary(
    local_platform: platform.PlatformState, prometheus_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[AnalysisCheck]:
    """A canary serving traffic (every Nth request failing, N from the test's parameter),
    scraped under a namespace label of its own; yields the check pointed at it once Prometheus
    has two scrapes of it (what `rate` needs)."""
    namespace = f"analysis-{uuid.uuid4().hex[:8]}"
    run_dir = Path(local_platform.run_dir)
    labels = {"service": "orders", "namespace": namespace, "release": "orders", "role": "canary"}
    async with kit_target.serving(error_every=request.param) as served:
        prometheus.register(run_dir, namespace, [prometheus.Target(served.address, labels)])
        try:
            check = _check(namespace)
            rate = f'sum(rate(http_requests_total{{namespace="{namespace}"}}[1m]))'

            async def measured() -> bool:
                """Prometheus has a request rate for the canary"""
                async with client.create_session() as session:
                    answer = await release_prometheus.query(session, prometheus_url, rate)
                return (answer.value or 0) > 0

            await eventually(measured, within=90)
            yield check
        finally:
            prometheus.unregister(run_dir, namespace)


@pytest.mark.parametrize("canary", [0], indirect=True)
async def test_a_healthy_canary_passes_its_analysis(
    prometheus_url: str, canary: AnalysisCheck
) -> None:
    phase, measurements = await _run(prometheus_url, canary)
    assert phase == "Successful"
    assert [m.phase for m in measurements] == ["Successful"] * canary.count
    assert all(m.value == 0.0 for m in measurements)  # no 5xx series at all is a ratio of 0


@pytest.mark.parametrize("canary", [3], indirect=True)
async def test_a_canary_failing_a_third_of_its_requests_fails_its_analysis(
    prometheus_url: str, canary: AnalysisCheck
) -> None:
    phase, measurements = await _run(prometheus_url, canary)
    assert phase == "Failed"
    (failed,) = measurements  # consecutiveFailureLimit 1: the first failure decides
    assert failed.phase == "Failed"
    assert failed.value is not None
    assert 0.2 < failed.value < 0.45


@pytest.mark.parametrize("canary", [0], indirect=True)
async def test_a_stopped_prometheus_makes_the_analysis_inconclusive_never_a_pass(
    local_platform: platform.PlatformState, prometheus_url: str, canary: AnalysisCheck
) -> None:
    supervisor = Supervisor(Path(local_platform.run_dir))
    supervisor.stop(prometheus.PROCESS)
    try:
        phase, measurements = await _run(prometheus_url, canary)
    finally:
        assert platform.start_prometheus(local_platform) == prometheus_url
    assert phase == "Inconclusive"
    assert [m.phase for m in measurements] == ["Inconclusive"]
    assert measurements[0].value is None
    assert "Connect" in (measurements[0].message or "")
    phase, _ = await _run(prometheus_url, canary)
    assert phase == "Successful"  # the same canary, Prometheus back: the run was not a verdict
