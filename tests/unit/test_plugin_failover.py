"""`kubectl meridian failover`: the journal table on-call reads, and the request `start` writes."""

from __future__ import annotations

from meridian import plugin
from meridian.plugin import failover

STATUS = {
    "activeCluster": "dr",
    "phase": "StandingBy",
    "lag": {"bytes": 0, "seconds": 0.0},
    "conditions": [{"type": "ReadyToFailover", "status": "False", "reason": "NotReady"}],
    "run": {
        "id": "planned-1",
        "mode": "Planned",
        "direction": "ToTarget",
        "state": "Succeeded",
        "rtoSeconds": 7.5,
        "rpoBytes": 0,
        "rpoSeconds": 0.0,
        "message": "production on dr",
        "steps": [
            {
                "name": "Preflight",
                "state": "Succeeded",
                "startedAt": "2026-11-27T09:00:00.000+00:00",
                "finishedAt": "2026-11-27T09:00:01.250+00:00",
                "message": "ready",
            },
            {"name": "Verify", "state": "Pending"},
        ],
    },
}


def test_status_prints_each_step_with_its_duration() -> None:
    text = failover.render(STATUS)
    lines = text.splitlines()
    assert lines[0].startswith("Active side: dr")
    assert "RTO 7.5 s" in lines[1]
    assert lines[2].split() == ["STEP", "STATE", "STARTED", "TOOK", "MESSAGE"]
    assert lines[3].split()[:2] == ["Preflight", "Succeeded"]
    assert "1.2s" in lines[3]
    assert lines[4].split() == ["Verify", "Pending", "<none>", "<none>", "<none>"]
    assert lines[-1] == "production on dr"


def test_a_plan_without_a_run_says_so() -> None:
    assert failover.render({"phase": "StandingBy"}).splitlines()[-1] == "No run yet."


def test_start_parses_mode_direction_and_id() -> None:
    args = plugin.build_parser().parse_args(
        ["failover", "start", "prod-to-dr", "--mode", "Emergency", "--id", "e1"]
    )
    assert (args.plan, args.namespace, args.mode, args.direction, args.id) == (
        "prod-to-dr",
        "meridian-system",
        "Emergency",
        "ToTarget",
        "e1",
    )
