"""Prometheus metrics of the EdgeNode operator, beside the machinery's per-kind ones."""

from __future__ import annotations

import contextlib

from prometheus_client import Counter, Gauge

NODE_READY = Gauge(
    "meridian_edge_node_ready",
    "1 while the node's Lease is within the grace (Ready=True), else 0.",
    ["node", "site"],
)
HEARTBEAT_EXPIRIES = Counter(
    "meridian_edge_heartbeat_expiries_total",
    "Times a node's Lease expired (Ready went Unknown), by site.",
    ["site"],
)
UPGRADES_STARTED = Counter(
    "meridian_edge_upgrades_started_total", "Nodes given a target version, by site.", ["site"]
)
UPGRADE_TIMEOUTS = Counter(
    "meridian_edge_upgrade_timeouts_total",
    "Upgrades counted as failed because the agent did not report the target in time, by site.",
    ["site"],
)
WAVE_HALTED = Gauge(
    "meridian_edge_wave_halted",
    "1 while the site's upgrade wave is halted (failure budget exceeded) until resumed.",
    ["site"],
)


def forget(node: str, site: str) -> None:
    """A deleted node's series go with it (a gauge otherwise reports it forever)."""
    with contextlib.suppress(KeyError):  # never assessed by this process
        NODE_READY.remove(node, site)
