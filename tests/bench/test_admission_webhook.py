"""Admission latency with the webhook: 200 concurrent creates through the apiserver, with and
without the webhook in their path, in the same run.

Each create is a Deployment (2 replicas) sent with dryRun: it passes the whole admission chain
(the webhook's NetworkPolicy and PodDisruptionBudget lookups included) without persisting, so the
figure is admission, not etcd or the controllers. The baseline arm sends the same creates into a
namespace carrying the break-glass label, which the registration's namespaceSelector leaves out:
the apiserver never calls the webhook there. Arms alternate (none, webhook, none, webhook) so
neither gets a warmer apiserver. Goal (issue 14): p99 added < 20 ms with the webhook.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Iterator

import pytest
from lightkube import ApiError, AsyncClient, codecs

from meridian.core import kube
from meridian.localplatform import platform
from meridian.webhooks import registration
from tests import admission as adm
from tests import metrics
from tests.bench.figures import _row, quantile_bound

CONCURRENT = 200
SEQUENTIAL = 100
ROUNDS = 2
# The apiserver's own clock on each call to the webhook: what it adds to a request, without the
# queueing for CPU that 200 requests on two cores add to both arms alike.
WEBHOOK_SECONDS = "apiserver_admission_webhook_admission_duration_seconds"


@pytest.fixture(scope="module")
def webhook(local_platform: platform.PlatformState) -> Iterator[str]:
    yield from adm.running_webhook(local_platform)


async def _creates(client: AsyncClient, namespace: str) -> tuple[list[float], list[str]]:
    """Milliseconds each admitted create of CONCURRENT sent at once took, and why the others
    failed (a webhook past its timeoutSeconds fails the create: failurePolicy Fail)."""

    async def one(index: int) -> float:
        body = adm.deployment(namespace, name=f"bench-{index}", replicas=2)
        started = time.perf_counter()
        await client.create(codecs.from_dict(body), dry_run=True)
        return (time.perf_counter() - started) * 1000

    outcomes = await asyncio.gather(*(one(i) for i in range(CONCURRENT)), return_exceptions=True)
    admitted = [o for o in outcomes if isinstance(o, float)]
    failed = [str(o)[:160] for o in outcomes if isinstance(o, ApiError)]
    unexpected = [
        o for o in outcomes if isinstance(o, BaseException) and not isinstance(o, ApiError)
    ]
    if unexpected:
        raise unexpected[0]
    return admitted, failed


async def _one_by_one(client: AsyncClient, namespace: str) -> list[float]:
    """Milliseconds each of SEQUENTIAL creates took, sent one after the other: the latency one
    user sees on an otherwise idle apiserver."""
    taken = []
    for index in range(SEQUENTIAL):
        body = adm.deployment(namespace, name=f"bench-{index}", replicas=2)
        started = time.perf_counter()
        await client.create(codecs.from_dict(body), dry_run=True)
        taken.append((time.perf_counter() - started) * 1000)
    return taken


def _quantiles(samples: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(samples, n=100, method="inclusive")
    return cuts[49], cuts[98]


@pytest.mark.timeout(900)
async def test_admission_latency_with_and_without_the_webhook(
    local_platform: platform.PlatformState, webhook: str
) -> None:
    print(
        f"\n== Admission: {CONCURRENT} concurrent Deployment creates (dry run), {ROUNDS} rounds =="
    )
    stem = f"bench-adm-{uuid.uuid4().hex[:6]}"
    checked, bypassed = f"{stem}-hook", f"{stem}-none"
    glass = {registration.BREAK_GLASS_LABEL: "true"}
    setup = adm.apply(
        local_platform,
        adm.namespace(checked),
        adm.network_policy(checked),
        *(adm.pdb(checked, name=f"bench-{i}") for i in range(CONCURRENT)),
        adm.namespace(bypassed, glass),
    )
    assert setup.ok, setup.stderr
    client = kube.client(local_platform.kubeconfig, field_manager="meridian-bench")
    samples: dict[str, list[float]] = {"none": [], "webhook": []}
    serial: dict[str, list[float]] = {"none": [], "webhook": []}
    failures: dict[str, list[str]] = {"none": [], "webhook": []}
    try:
        await _creates(client, bypassed)  # warm-up: connections, the apiserver's caches
        await _creates(client, checked)
        calls_before = metrics.apiserver_histogram(
            local_platform, WEBHOOK_SECONDS, operation="CREATE"
        )
        for _ in range(ROUNDS):
            for arm, namespace in (("none", bypassed), ("webhook", checked)):
                admitted, failed = await _creates(client, namespace)
                samples[arm] += admitted
                failures[arm] += failed
                serial[arm] += await _one_by_one(client, namespace)
        calls = metrics.apiserver_histogram(local_platform, WEBHOOK_SECONDS, operation="CREATE")
    finally:
        await client.close()
        adm.kubectl(local_platform, "delete", "namespace", checked, bypassed, "--wait=false")
    none_p50, none_p99 = _quantiles(samples["none"])
    hook_p50, hook_p99 = _quantiles(samples["webhook"])
    _row("p50, no webhook in the path (baseline)", f"{none_p50:.1f} ms")
    _row("p99, no webhook in the path (baseline)", f"{none_p99:.1f} ms")
    _row(
        "p50, with the webhook (NetworkPolicy + PDB lookups)",
        f"{hook_p50:.1f} ms",
        f"+{hook_p50 - none_p50:.1f} ms",
    )
    _row(
        "p99, with the webhook", f"{hook_p99:.1f} ms", f"+{hook_p99 - none_p99:.1f} ms (goal < 20)"
    )
    serial_none_p99 = _quantiles(serial["none"])[1]
    serial_p50, serial_p99 = _quantiles(serial["webhook"])
    _row(
        f"one at a time ({SEQUENTIAL} per round): p50 / p99, no webhook",
        f"{_quantiles(serial['none'])[0]:.1f} / {serial_none_p99:.1f} ms",
    )
    _row(
        "one at a time: p50 / p99, with the webhook",
        f"{serial_p50:.1f} / {serial_p99:.1f} ms",
        f"added p99 {serial_p99 - serial_none_p99:+.1f} ms (goal < 20)",
    )
    _row(
        "the apiserver's time in the webhook call: p50 / p99",
        f"<= {1000 * quantile_bound(calls_before, calls, 0.5):g} / "
        f"<= {1000 * quantile_bound(calls_before, calls, 0.99):g} ms",
        "(bucket bounds; goal < 20)",
    )
    for arm in ("none", "webhook"):
        _row(f"creates failed, {arm} (of {CONCURRENT * ROUNDS})", str(len(failures[arm])))
        for reason in sorted(set(failures[arm]))[:3]:
            print(f"    {reason}")
    # Compliant creates: a denial on the merits would be a wrong verdict. Timeouts and "could not
    # be checked" under load are figures above, not failures: the goal is a latency, measured on
    # whatever machine runs it.
    wrong = [r for r in failures["webhook"] if "denied" in r and "could not be checked" not in r]
    assert not wrong
    assert samples["none"]
    assert samples["webhook"]
