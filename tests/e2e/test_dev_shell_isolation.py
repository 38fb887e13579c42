"""`make up`, `eval "$(meridian dev env)"`, `make test` in that shell: the dev platform is untouched.

This session's platform plays the developer's. A nested pytest runs with everything `meridian dev
env` exports for it (KUBECONFIG, MERIDIAN_* DSNs and URLs, MERIDIAN_DR_KUBECONFIG when there is a
DR cluster, AWS_*) in its environment; it must start its own platform, see none of those values in
its tests or the processes they spawn, and leave the "dev" platform holding what it held.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from meridian.localplatform import platform
from tests import platform_marks

ROOT = Path(__file__).resolve().parents[2]
PROBE = ROOT / "tests" / "e2e" / "dev_shell_probe.py"
# One of the tests that failed against a dev cluster (its example Tenant already existed there).
SELECTION = [
    str(PROBE),
    "tests/integration/test_crds.py::test_tenant_quota_at_the_tier_minimum_is_accepted",
]


def _dev_exports(dev: platform.PlatformState) -> dict[str, str]:
    """What `meridian dev env` exports for `dev` (and a DR kubeconfig, as after `make up DR=1`)."""
    return {"MERIDIAN_DR_KUBECONFIG": dev.kubeconfig, **dev.environment()}


def _dev_shell(dev: platform.PlatformState) -> dict[str, str]:
    """A shell after `eval "$(meridian dev env)"`: a new user's has no opt-in."""
    env = {**os.environ, **_dev_exports(dev)}
    env.pop("MERIDIAN_TEST_KUBECONFIG", None)
    return env


def _leaks(dev_values: set[str], report: dict[str, dict[str, str]]) -> dict[str, list[str]]:
    """Which of the dev platform's values reached the nested tests, a child or an operator."""
    return {
        where: sorted(name for name, value in env.items() if value in dev_values)
        for where, env in report.items()
        if where in ("test", "child", "operator")
    }


@pytest.mark.timeout(900)
def test_a_session_in_a_dev_shell_starts_its_own_platform_and_leaves_dev_untouched(
    local_platform: platform.PlatformState, tmp_path: Path
) -> None:
    marker = f"dev-shell-probe-{uuid.uuid4().hex[:8]}"
    report_path = tmp_path / "report.json"
    shell = _dev_shell(local_platform)
    before = platform_marks.snapshot(local_platform)

    nested = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-x", "-q", *SELECTION],
        cwd=ROOT,
        env={
            **shell,
            "MERIDIAN_TEST_PROBE_MARKER": marker,
            "MERIDIAN_TEST_PROBE_REPORT": str(report_path),
        },
        capture_output=True,
        text=True,
        check=False,
        timeout=840,
    )

    assert nested.returncode == 0, nested.stdout[-5000:] + nested.stderr[-2000:]
    assert f"{len(SELECTION)} passed" in nested.stdout, nested.stdout[-2000:]
    report: dict[str, Any] = json.loads(report_path.read_text())
    # The marks are where the nested session worked, so their absence below means something.
    assert report["marks"] == ["namespace", "database", "redis key", "bucket", "queue"]
    own = report["platform"]
    assert own["KUBECONFIG"] != local_platform.kubeconfig
    dev_values = {
        value
        for name, value in _dev_exports(local_platform).items()
        if name != "PATH"
        and value != own.get(name)  # constants every platform shares (moto's keys)
    }
    assert platform_marks.marks_found(local_platform, marker) == []
    assert _leaks(dev_values, report) == {"test": [], "child": [], "operator": []}
    after = platform_marks.snapshot(local_platform)
    assert platform_marks.cluster_changes(before.pop("cluster"), after.pop("cluster")) == {}
    assert after == before
