"""`kubectl meridian release`: the status table and the counter patches, without a cluster."""

from __future__ import annotations

from typing import Any

import pytest

from meridian import plugin
from meridian.plugin import release

BODY: dict[str, Any] = {
    "metadata": {"name": "orders", "namespace": "meridian-prod", "resourceVersion": "42"},
    "spec": {
        "service": "orders",
        "strategy": {
            "type": "Canary",
            "canarySteps": [
                {"setWeight": 10},
                {"analysis": {"query": "q", "successCondition": "result < 1", "count": 2}},
                {"pause": {}},
            ],
        },
        "actions": {"promote": {"count": 3, "full": False}},
    },
    "status": {
        "phase": "Paused",
        "message": "step 2: paused until actions.resume",
        "stableRevision": "aaa",
        "canaryRevision": "bbb",
        "canaryWeight": 10,
        "currentStep": 2,
        "analysisRuns": [
            {
                "step": 1,
                "revision": "bbb",
                "phase": "Successful",
                "startedAt": "t",
                "measurements": [{"at": "t", "phase": "Successful"}] * 2,
            }
        ],
        "history": [
            {"revision": 1, "hash": "aaa", "template": {"image": "i:1"}, "outcome": "Promoted"},
            {"revision": 2, "hash": "bbb", "template": {"image": "i:2"}},
        ],
    },
}


def test_status_is_a_table_of_steps_with_their_analysis() -> None:
    lines = release.render_status(BODY).splitlines()
    assert lines[0] == "Release:  meridian-prod/orders (orders)"
    assert "Weight: 10%" in lines[2]
    steps = lines[lines.index(next(line for line in lines if line.startswith("STEP"))) :]
    assert steps[1].split()[:4] == ["0", "setWeight", "10", "done"]
    assert "Successful (successful 2)" in steps[2]
    assert steps[3].split()[-2:] == ["current", "<none>"]


def test_status_lists_the_history() -> None:
    text = release.render_status(BODY)
    assert "1          aaa    i:1     Promoted" in text
    assert "2          bbb    i:2     <none>" in text


def test_an_action_raises_its_counter_by_one_at_the_version_read() -> None:
    patch = release.action_patch(BODY, "promote", full=True)
    assert patch == {
        "metadata": {"resourceVersion": "42"},
        "spec": {"actions": {"promote": {"count": 4, "full": True}}},
    }
    assert release.action_patch(BODY, "abort")["spec"]["actions"]["abort"] == {"count": 1}


@pytest.mark.parametrize("action", release.ACTIONS)
def test_every_action_parses_under_kubectl_meridian(action: str) -> None:
    extra = ["--to-revision", "3"] if action == "rollback" else []
    args = plugin.build_parser().parse_args(["release", action, "orders", "-n", "x", *extra])
    assert (args.action, args.name, args.namespace) == (action, "orders", "x")
