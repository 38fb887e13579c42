"""Prometheus metrics every operator exports (served by the runtime on the metrics port)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

RECONCILES = Counter(
    "meridian_operator_reconciles_total",
    "Reconciles run, by kind and result (ok, retry, error, invalid).",
    ["kind", "result"],
)
RECONCILE_SECONDS = Histogram(
    "meridian_operator_reconcile_duration_seconds",
    "Time spent in one reconcile, by kind.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
STATUS_WRITES = Counter(
    "meridian_operator_status_writes_total",
    "Status patches sent, by kind (zero while idle means reconciles are quiet).",
    ["kind"],
)
CONDITION_TRANSITIONS = Counter(
    "meridian_operator_condition_transitions_total",
    "Condition transitions, by kind, condition type, status and reason.",
    ["kind", "type", "status", "reason"],
)
