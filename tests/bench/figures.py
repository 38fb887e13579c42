"""How benchmarks print a figure beside its baseline, read the apiserver's request counters and a
service's histograms, and charge CPU time to the processes the local platform started."""

from __future__ import annotations

import os
import re
import ssl
import urllib.request
from collections.abc import Collection
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from meridian.localplatform import platform
from meridian.localplatform.processes import Supervisor

_REQUESTS = re.compile(r"^apiserver_request_total\{([^}]*)\} ([0-9.e+]+)$", re.MULTILINE)
_WRITE = re.compile(r'verb="(POST|PUT|PATCH|DELETE|APPLY)"')


def _row(what: str, value: str, baseline: str = "") -> None:
    print(f"  {what:58} {value:>14}   {baseline}")


def histogram(metrics_url: str, name: str, **labels: str) -> dict[float, float]:
    """A histogram's cumulative bucket counts (upper bound -> count) as /metrics shows them now."""
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text = response.read().decode()
    return {
        float(sample.labels["le"]): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == f"{name}_bucket"
        and all(sample.labels.get(key) == value for key, value in labels.items())
    }


def quantile_bound(before: dict[float, float], after: dict[float, float], q: float) -> float:
    """The upper bound of the bucket the q-quantile of what was observed in between falls in."""
    counts = sorted((bound, count - before.get(bound, 0.0)) for bound, count in after.items())
    total = counts[-1][1] if counts else 0.0
    if total <= 0:
        return float("nan")
    return next(bound for bound, count in counts if count >= q * total)


def peak_rss_mib(pid: int) -> float:
    """The process's high-water resident set (VmHWM), in MiB."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def _processes() -> dict[int, tuple[int, float]]:
    """pid -> (parent pid, CPU seconds: user + system, plus what it reaped of its children)."""
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        found[int(stat.parent.name)] = (int(fields[1]), sum(map(int, fields[11:15])) / tick)
    return found


def cpu_seconds(*run_dirs: Path | str) -> dict[str, float]:
    """CPU time so far of each process the supervisors of these run dirs started, with all its
    descendants (PostgreSQL backends and Erlang ports among them; backends leave the process
    group, so the tree is walked by parent pid)."""
    processes = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in processes.items():
        children.setdefault(parent, []).append(pid)
    spent = {}
    for run_dir in run_dirs:
        for record in Supervisor(Path(run_dir)).records():
            total, stack = 0.0, [record.pid]
            while stack:
                pid = stack.pop()
                total += processes.get(pid, (0, 0.0))[1]
                stack.extend(children.get(pid, ()))
            spent[record.name] = total
    return spent


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


def _apiserver_writes(state: platform.PlatformState, group: str) -> float:
    total = 0.0
    for labels, value in _REQUESTS.findall(_apiserver_metrics(state)):
        if f'group="{group}"' in labels and _WRITE.search(labels):
            total += float(value)
    return total
