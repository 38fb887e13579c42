"""Status is written only when our part differs from the server's, or the last report is old."""

from __future__ import annotations

import datetime

from meridian.edge_agent import report
from meridian.edge_agent.state import Applied

NOW = datetime.datetime(2026, 11, 27, 9, 0, tzinfo=datetime.UTC)
FACTS = {"hostname": "nyc1-edge-1", "os": "Debian GNU/Linux 12", "kernel": "6.1", "cpus": 8}


def _server(body: dict[str, object], *, minutes_ago: float) -> dict[str, object]:
    stamp = (NOW - datetime.timedelta(minutes=minutes_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        **body,
        "metrics": {"load1": 0.3},
        "lastReportTime": stamp,
        "conditions": [{"type": "Ready", "status": "True"}],
        "lastHeartbeatTime": stamp,
    }


def test_an_unchanged_report_waits_for_the_interval() -> None:
    body = report.body(version="0.4.1", applied=Applied(config_hash="abc"), facts=FACTS)
    held = _server({k: v for k, v in body.items() if v is not None}, minutes_ago=1)
    assert not report.due(body, held, now=NOW, interval_s=300)
    held = _server({k: v for k, v in body.items() if v is not None}, minutes_ago=5)
    assert report.due(body, held, now=NOW, interval_s=300)


def test_a_change_of_our_fields_is_written_at_once() -> None:
    body = report.body(version="0.4.1", applied=Applied(config_hash="abc"), facts=FACTS)
    held = _server({k: v for k, v in body.items() if v is not None}, minutes_ago=1)
    for changed in (
        report.body(version="0.5.0", applied=Applied(config_hash="abc"), facts=FACTS),
        report.body(version="0.4.1", applied=Applied(config_hash="def"), facts=FACTS),
        report.body(
            version="0.4.1", applied=Applied(config_hash="abc", config_error="bad"), facts=FACTS
        ),
        report.body(
            version="0.4.1", applied=Applied(config_hash="abc"), facts={**FACTS, "cpus": 4}
        ),
    ):
        assert report.due(changed, held, now=NOW, interval_s=300), changed
    assert report.due(body, None, now=NOW, interval_s=300), "nothing reported yet"


def test_the_patch_never_erases_the_operators_fields() -> None:
    cleared = report.body(version="0.4.1", applied=Applied(config_hash="abc"), facts=FACTS)
    patch = report.patch(cleared, {"load1": 0.2}, now=NOW)["status"]
    assert "upgrade" not in patch, "upgrade: null would erase the operator's targetVersion"
    assert patch["configError"] is None, "null removes a cleared error"
    assert patch["lastReportTime"] == "2026-11-27T09:00:00Z"
    assert not {"conditions", "phase", "lastHeartbeatTime"} & patch.keys()
    upgrading = report.body(
        version="0.4.1",
        applied=Applied(upgrade_target="0.5.0", upgrade_phase="Running", upgrade_message="m"),
        facts=FACTS,
    )
    assert report.patch(upgrading, {}, now=NOW)["status"]["upgrade"] == {
        "phase": "Running",
        "message": "m",
    }
