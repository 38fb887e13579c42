"""What the apiserver and our operators count, read from their own /metrics: the requests and
writes a test or a benchmark attributes to an operator, and how many reconciles it ran meanwhile.

Shared by the benchmarks (which print these figures) and the e2e tests (which assert on them),
so that a figure and the test guarding it are measured the same way.
"""

from __future__ import annotations

import re
import ssl
import urllib.request
from collections.abc import Collection
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from meridian.localplatform import net, platform

_REQUESTS = re.compile(r"^apiserver_request_total\{([^}]*)\} ([0-9.e+]+)$", re.MULTILINE)
_WRITE = re.compile(r'verb="(POST|PUT|PATCH|DELETE|APPLY)"')


def _apiserver_metrics(state: platform.PlatformState) -> str:
    pki = Path(state.kubeconfig).parent / "pki"
    context = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    context.load_cert_chain(str(pki / "admin.crt"), str(pki / "admin.key"))
    server = state.clusters["primary"]["server"]
    with urllib.request.urlopen(f"{server}/metrics", context=context, timeout=10) as response:
        return str(response.read().decode())


def apiserver_requests(
    state: platform.PlatformState, resources: Collection[str], *, writes_only: bool
) -> float:
    """Requests the apiserver served for these resources (all clients), from its own metrics."""
    total = 0.0
    for labels, value in _REQUESTS.findall(_apiserver_metrics(state)):
        resource = re.search(r'resource="([^"]*)"', labels)
        if (
            resource
            and resource.group(1) in resources
            and (not writes_only or _WRITE.search(labels))
        ):
            total += float(value)
    return total


def apiserver_writes_by_request(
    state: platform.PlatformState, resources: Collection[str]
) -> dict[str, float]:
    """Writes per `verb resource[/subresource]`, to say what an unexpected write count was."""
    found: dict[str, float] = {}
    for labels, value in _REQUESTS.findall(_apiserver_metrics(state)):
        resource = re.search(r'resource="([^"]*)"', labels)
        verb = _WRITE.search(labels)
        if resource and verb and resource.group(1) in resources:
            sub = re.search(r'subresource="([^"]+)"', labels)
            key = f"{verb.group(1)} {resource.group(1)}" + (f"/{sub.group(1)}" if sub else "")
            found[key] = found.get(key, 0.0) + float(value)
    return found


def writes_since(
    state: platform.PlatformState, resources: Collection[str], before: dict[str, float]
) -> dict[str, float]:
    """The writes per request counted since `before` (an `apiserver_writes_by_request`)."""
    after = apiserver_writes_by_request(state, resources)
    return {
        key: value - before.get(key, 0.0)
        for key, value in after.items()
        if value != before.get(key, 0.0)
    }


def apiserver_writes_in_group(state: platform.PlatformState, group: str) -> float:
    """Writes the apiserver served for every resource of one API group (all clients)."""
    total = 0.0
    for labels, value in _REQUESTS.findall(_apiserver_metrics(state)):
        if f'group="{group}"' in labels and _WRITE.search(labels):
            total += float(value)
    return total


def reconciles(ports: platform.OperatorPorts, kind: str, result: str = "ok") -> float:
    """The operator's `meridian_operator_reconciles_total` for one kind and result, so far."""
    url = f"http://{net.LOOPBACK}:{ports.metrics}/metrics"
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    pattern = (
        rf'^meridian_operator_reconciles_total\{{kind="{kind}",result="{result}"\}} ([0-9.e+]+)$'
    )
    found = re.search(pattern, text, re.M)
    return float(found.group(1)) if found else 0.0


def apiserver_histogram(
    state: platform.PlatformState, metric: str, **labels: str
) -> dict[float, float]:
    """A histogram of the primary apiserver's as cumulative bucket counts (upper bound -> count),
    summed over every series whose labels include `labels` (for `figures.quantile_bound`)."""
    buckets: dict[float, float] = {}
    for family in text_string_to_metric_families(_apiserver_metrics(state)):
        for sample in family.samples:
            if sample.name == f"{metric}_bucket" and all(
                sample.labels.get(key) == value for key, value in labels.items()
            ):
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
    return buckets
