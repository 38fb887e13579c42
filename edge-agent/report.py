"""The agent's part of EdgeNode status, and when it is worth a write (pure; unit-tested).

The agent owns agentVersion, appliedConfigHash, configError, facts, metrics, lastReportTime and
upgrade.phase/message; the operator owns conditions, phase, lastHeartbeatTime and
upgrade.targetVersion. A JSON merge patch of only our keys on the status subresource leaves the
operator's untouched (never `upgrade: null`, which would erase its targetVersion; `configError:
null` does remove a cleared error). Whether to write is decided against the status the API
server holds (level-triggered): a write when one of our keys differs, or when the last report is
older than the report interval, so an idle fleet costs one write per node every 5 minutes.
"""

from __future__ import annotations

import datetime
from typing import Any

from meridian.edge_agent.state import Applied


def body(*, version: str, applied: Applied, facts: dict[str, Any]) -> dict[str, Any]:
    """Our keys whose change is worth a write (metrics and lastReportTime are not)."""
    reported: dict[str, Any] = {
        "agentVersion": version,
        "appliedConfigHash": applied.config_hash,
        "configError": applied.config_error,
        "facts": facts,
    }
    if applied.upgrade_target is not None:
        reported["upgrade"] = {"phase": applied.upgrade_phase, "message": applied.upgrade_message}
    return reported


def _differs(wanted: Any, held: Any) -> bool:
    if isinstance(wanted, dict):
        held = held if isinstance(held, dict) else {}
        return any(_differs(value, held.get(key)) for key, value in wanted.items())
    return bool(wanted != held)


def _parse_time(value: Any) -> datetime.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def due(
    reported: dict[str, Any],
    status: dict[str, Any] | None,
    *,
    now: datetime.datetime,
    interval_s: float,
) -> bool:
    """Whether `reported` should be written over the server's `status`."""
    status = status or {}
    if _differs(reported, status):
        return True
    last = _parse_time(status.get("lastReportTime"))
    return last is None or (now - last).total_seconds() >= interval_s


def patch(
    reported: dict[str, Any], metrics: dict[str, Any], *, now: datetime.datetime
) -> dict[str, Any]:
    """The merge patch body for the status subresource."""
    stamp = now.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"status": {**reported, "metrics": metrics, "lastReportTime": stamp}}
