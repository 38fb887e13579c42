"""How benchmarks print a figure beside its baseline, read a service's histograms, and charge CPU
time to the processes the local platform started (the apiserver's counters: `tests.metrics`)."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from meridian.localplatform.processes import Supervisor


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


def counter(metrics_url: str, name: str) -> float:
    """A counter's value (summed over its labels) as /metrics shows it now."""
    with urllib.request.urlopen(metrics_url, timeout=10) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == f"{name}_total"
    )


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
