"""Prometheus metrics of the FailoverPlan operator, beside the machinery's (same /metrics port):
what on-call graphs and alerts on — the replica's lag standing by, each step's time, each run's
outcome, RTO and RPO."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REPLICA_LAG_BYTES = Gauge(
    "meridian_failover_replica_lag_bytes",
    "WAL the replica has not replayed, by plan (namespace/name), as last measured.",
    ["plan"],
)
REPLICA_LAG_SECONDS = Gauge(
    "meridian_failover_replica_lag_seconds",
    "The replica's replay lag, by plan, as last measured.",
    ["plan"],
)
READY_TO_FAILOVER = Gauge(
    "meridian_failover_ready", "1 while the plan stands ReadyToFailover, else 0.", ["plan"]
)
STEP_SECONDS = Histogram(
    "meridian_failover_step_duration_seconds",
    "Time of one step of a run, by step and outcome.",
    ["step", "state"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
RUNS = Counter("meridian_failover_runs_total", "Runs ended, by mode and state.", ["mode", "state"])
RTO_SECONDS = Gauge("meridian_failover_last_rto_seconds", "RTO of the plan's last run.", ["plan"])
RPO_BYTES = Gauge("meridian_failover_last_rpo_bytes", "RPO of the plan's last run.", ["plan"])
