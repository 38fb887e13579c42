"""`meridian dev status`'s real-node table: a node line, then its pods."""

from __future__ import annotations

from meridian.localplatform import nodestatus
from meridian.localplatform.nodestatus import NodeStatus, Pod


def test_each_node_shows_readiness_pod_count_then_its_pods_and_their_phases() -> None:
    lines = nodestatus.render(
        [
            NodeStatus(
                "primary",
                "primary-real-0",
                "True",
                [
                    Pod("default", "web-1", "Running", True),
                    Pod("default", "hungry", "Failed", False),
                ],
            ),
            NodeStatus("dr", "dr-real-0", "False", []),
        ]
    )
    assert lines[0].split() == ["REAL", "NODE", "CLUSTER", "READY", "PODS"]
    assert lines[1].split() == ["primary-real-0", "primary", "True", "2"]
    assert lines[2].split() == ["default/web-1", "Running", "ready"]
    assert lines[3].split() == ["default/hungry", "Failed", "not", "ready"]
    assert lines[4].split() == ["dr-real-0", "dr", "False", "0"]
    assert len(lines) == 5


def test_a_pod_is_ready_only_when_its_ready_condition_is_true() -> None:
    item = {
        "metadata": {"namespace": "default", "name": "p"},
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]},
    }
    assert nodestatus._pod(item) == Pod("default", "p", "Running", False)
    item["status"]["conditions"][0]["status"] = "True"  # type: ignore[index]
    assert nodestatus._pod(item).ready
    assert nodestatus._ready({"status": {}}) == "Unknown"
