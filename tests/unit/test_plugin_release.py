"""`kubectl meridian release`: the status table and the counter patches, without a cluster."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from meridian import plugin
from meridian.core.api.v1alpha1 import servicerelease
from meridian.operators.release import revision
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


EXAMPLE = Path(__file__).resolve().parents[2] / "crds" / "examples" / "servicerelease.yaml"
ABORT = {
    "reason": "AbortRequested",
    "revision": "bbb",
    "at": "2026-12-07T18:00:00.000Z",
    "stableReadyAt": "2026-12-07T18:00:04.000Z",
    "weightRestoredAt": "2026-12-07T18:00:05.000Z",
}


def _example(**status: Any) -> dict[str, Any]:
    body: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    body["metadata"]["resourceVersion"] = "7"
    body["status"] = {"abort": ABORT, "history": [], **status}
    return body


def _spec_hash(body: dict[str, Any]) -> str:
    spec = servicerelease.ServiceReleaseSpec.model_validate(body["spec"])
    return revision.hash_of(revision.template_of(spec))


def test_status_shows_an_abort_as_the_rollouts_while_it_is() -> None:
    aborted = _example(phase="Aborted", stableRevision="aaa")
    shown = release.render_status(aborted)
    assert "\nAbort:    AbortRequested at 2026-12-07T18:00:00.000Z: stable Ready at " in shown
    # The aborted revision held back while the stable comes back up: still this rollout's.
    body = _example(phase="Degraded", stableRevision="aaa")
    body["status"]["abort"] = {**ABORT, "revision": _spec_hash(body)}
    assert "Abort:    AbortRequested at" in release.render_status(body)


def test_status_labels_an_earlier_rollouts_abort_as_history() -> None:
    """After bbb's abort a later revision rolled out fine: the abort is no longer the news."""
    body = _example(phase="Healthy")
    body["status"]["stableRevision"] = _spec_hash(body)
    text = release.render_status(body)
    assert "Abort:    " not in text
    (line,) = [line for line in text.splitlines() if "AbortRequested" in line]
    assert line.startswith("Earlier:  ")
    assert "bbb" in line
    # A later revision rolling out now: the same.
    rolling = _example(phase="Progressing", stableRevision="aaa", canaryRevision="ccc")
    assert "Abort:    " not in release.render_status(rolling)
