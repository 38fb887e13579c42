"""The heartbeat sweep's cheap check: which nodes need their full tick this pass."""

from __future__ import annotations

import datetime
from typing import Any

from meridian.core.api.v1alpha1 import edgenode
from meridian.operators.edge import heartbeat, watcher
from meridian.operators.edge.settings import EdgeNodeSettings

T0 = datetime.datetime(2026, 11, 27, 10, 0, tzinfo=datetime.UTC)
SETTINGS = EdgeNodeSettings(grace_s=50.0, last_seen_resolution_s=300.0)


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def body(ready_reason: str = "LeaseRenewed", **status: Any) -> dict[str, Any]:
    ready = "True" if ready_reason == "LeaseRenewed" else "Unknown"
    return {
        "metadata": {"name": "n1", "resourceVersion": "7", "annotations": {}},
        "spec": {"site": "nyc1", "agentVersion": "1.0.0"},
        "status": {
            "agentVersion": "1.0.0",
            "lastHeartbeatTime": "2026-11-27T10:00:00Z",
            "conditions": [{"type": "Ready", "status": ready, "reason": ready_reason}],
            **status,
        },
    }


def renewing_book() -> heartbeat.Book:
    clock = lambda: T0  # noqa: E731 - the book's clock, frozen at T0
    book = heartbeat.Book(clock)
    book.observe(edgenode.lease_name("n1"), None)
    book.observe(edgenode.lease_name("n1"), "2026-11-27T10:00:00Z")
    return book


def test_a_settled_ready_node_is_not_ticked() -> None:
    assert not watcher.due(body(), "7", renewing_book(), at(10), SETTINGS)


def test_a_node_whose_body_changed_since_its_last_tick_is_ticked() -> None:
    """An agent's report (a new resourceVersion) must reach ConfigApplied and Upgraded."""
    assert watcher.due(body(), "6", renewing_book(), at(10), SETTINGS)


def test_a_node_whose_lease_expired_is_ticked_once_past_the_grace() -> None:
    assert not watcher.due(body(), "7", renewing_book(), at(50), SETTINGS)
    assert watcher.due(body(), "7", renewing_book(), at(51), SETTINGS)


def test_a_node_that_renews_again_is_ticked_back_to_ready() -> None:
    assert watcher.due(body("LeaseExpired"), "7", renewing_book(), at(10), SETTINGS)


def test_a_node_in_a_wave_is_ticked_for_the_waves_pulse() -> None:
    upgrading = body()
    upgrading["spec"]["agentVersion"] = "1.1.0"
    assert watcher.due(upgrading, "7", renewing_book(), at(10), SETTINGS)


def test_a_node_with_maintenance_windows_is_ticked_as_held_follows_the_clock() -> None:
    windowed = body()
    windowed["spec"]["maintenanceWindows"] = [{"days": ["Mon"], "start": "02:00"}]
    assert watcher.due(windowed, "7", renewing_book(), at(10), SETTINGS)


def test_last_heartbeat_time_is_refreshed_only_after_the_resolution() -> None:
    clock_at = [T0]
    book = heartbeat.Book(lambda: clock_at[0])
    book.observe("n1", None)
    book.observe("n1", "2026-11-27T10:00:00Z")
    clock_at[0] = at(299)
    book.observe("n1", "2026-11-27T10:04:59Z")
    assert not watcher.due(body(), "7", book, at(299), SETTINGS)
    clock_at[0] = at(300)
    book.observe("n1", "2026-11-27T10:05:00Z")
    assert watcher.due(body(), "7", book, at(300), SETTINGS)
