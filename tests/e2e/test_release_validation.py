"""`kubectl apply` of a bad ServiceRelease is refused by the apiserver itself, naming the field.

Each case bends the shipped example one way; the example itself must apply (so a refusal is the
bend's doing, not a broken example). No operator runs: the CRD's schema and CEL rules refuse.
"""

from __future__ import annotations

import copy
import json
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from meridian.localplatform import platform

EXAMPLE = Path(__file__).resolve().parents[2] / "crds" / "examples" / "servicerelease.yaml"

Bend = Callable[[dict[str, Any]], None]


def _release(bend: Bend | None = None) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))
    body["metadata"] = {"name": f"sr-{uuid.uuid4().hex[:8]}", "namespace": "default"}
    if bend is not None:
        bend(body["spec"])
    return body


def _apply(state: platform.PlatformState, body: dict[str, Any]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [f"{state.bin_dir}/kubectl", f"--kubeconfig={state.kubeconfig}", "apply", "-f", "-"],
        input=json.dumps(body),
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def _set(path: str, value: Any) -> Bend:
    def bend(spec: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        for part in parents:
            spec = spec[part]
        spec[last] = value

    return bend


def _drop(name: str) -> Bend:
    return lambda spec: spec.pop(name)


def _no_budget(spec: dict[str, Any]) -> None:
    spec.pop("disruptionBudget")
    spec["autoscaling"]["enabled"] = False


def _weights_back(spec: dict[str, Any]) -> None:
    spec["strategy"]["canarySteps"] = [{"setWeight": 50}, {"setWeight": 20}]


def _weights_repeat(spec: dict[str, Any]) -> None:
    spec["strategy"]["canarySteps"] = [{"setWeight": 50}, {"pause": {}}, {"setWeight": 50}]


CASES: dict[str, tuple[Bend, str, str]] = {
    "latest tag": (_set("image", "ghcr.io/meridian/orders:latest"), "spec.image", "latest"),
    "no tag": (_set("image", "ghcr.io/meridian/orders"), "spec.image", "spec.image"),
    "unapproved registry": (
        _set("image", "docker.io/library/nginx:1.27"),
        "spec.image",
        "approved registry ghcr.io/meridian/",
    ),
    "no resources": (_drop("resources"), "spec.resources", "Required value"),
    "no limits": (
        _set("resources", {"requests": {"cpu": "1"}}),
        "spec.resources.limits",
        "Required",
    ),
    "replicas > 1 without a disruption budget": (
        _no_budget,
        "spec.disruptionBudget",
        "required when more than one replica runs",
    ),
    "weights going back": (_weights_back, "spec.strategy.canarySteps", "strictly increase"),
    "weights repeated": (_weights_repeat, "spec.strategy.canarySteps", "strictly increase"),
    "unknown service": (_set("service", "payroll"), "spec.service", "Unsupported value"),
    "unparseable analysis condition": (
        _set("strategy.canarySteps", [{"analysis": {"query": "up", "successCondition": "yes"}}]),
        "spec.strategy.canarySteps[0].analysis.successCondition",
        "should match",
    ),
}


def test_the_example_applies(local_platform: platform.PlatformState) -> None:
    body = _release()
    applied = _apply(local_platform, body)
    assert applied.returncode == 0, applied.stderr
    platform.kubectl(local_platform, "delete", "sr", body["metadata"]["name"], "-n", "default")


def test_one_replica_needs_no_disruption_budget(local_platform: platform.PlatformState) -> None:
    def single(spec: dict[str, Any]) -> None:
        _no_budget(spec)
        spec["replicas"] = 1

    body = _release(single)
    applied = _apply(local_platform, body)
    assert applied.returncode == 0, applied.stderr
    platform.kubectl(local_platform, "delete", "sr", body["metadata"]["name"], "-n", "default")


@pytest.mark.parametrize("case", CASES, ids=str)
def test_bad_release_is_refused_naming_the_field(
    local_platform: platform.PlatformState, case: str
) -> None:
    bend, field, words = CASES[case]
    refused = _apply(local_platform, _release(bend))
    assert refused.returncode != 0, f"{case}: accepted"
    assert field in refused.stderr, refused.stderr
    assert words in refused.stderr, refused.stderr


def test_an_action_counter_never_goes_back(local_platform: platform.PlatformState) -> None:
    """Counters only grow, so an old YAML re-applied cannot re-arm an action already handled."""
    body = _release(_set("actions", {"abort": {"count": 2}}))
    assert _apply(local_platform, body).returncode == 0
    try:
        body["spec"]["actions"]["abort"]["count"] = 1
        refused = _apply(local_platform, body)
        assert refused.returncode != 0
        assert "spec.actions.abort.count" in refused.stderr, refused.stderr
        assert "only increases" in refused.stderr, refused.stderr
    finally:
        platform.kubectl(local_platform, "delete", "sr", body["metadata"]["name"], "-n", "default")
