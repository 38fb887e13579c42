"""Run only by `test_dev_shell_isolation`, in a nested pytest whose environment holds everything
`meridian dev env` exports for another platform (not named test_*, so plain runs skip the file).

It records what this session's platform, its tests and the processes they spawn were given, and
leaves marks in this session's own platform for the outer test to look for in the other one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from meridian.localplatform import platform
from meridian.localplatform.processes import Supervisor
from tests import platform_marks

PRINT_ENVIRONMENT = "import json, os; print(json.dumps(dict(os.environ)))"


def _operator_environment(state: platform.PlatformState, marker: str) -> dict[str, str]:
    """The environment of an operator started the way tests start one (read from /proc)."""
    supervisor = Supervisor(Path(state.run_dir) / marker)
    try:
        platform.start_operators(
            state,
            supervisor=supervisor,
            name="probe-operator",
            only="edge",
            env={"MERIDIAN_OPERATOR_PEERING_NAME": marker},
        )
        (record,) = supervisor.records()
        raw = Path(f"/proc/{record.pid}/environ").read_bytes()
    finally:
        supervisor.stop_all()
    return dict(entry.split("=", 1) for entry in raw.decode().split("\0") if "=" in entry)


def test_record_what_this_session_was_given(local_platform: platform.PlatformState) -> None:
    """Writes the report; leaves a mark in each of this session's cluster and datastores."""
    marker = os.environ["MERIDIAN_TEST_PROBE_MARKER"]
    child = subprocess.run(
        [sys.executable, "-c", PRINT_ENVIRONMENT], capture_output=True, text=True, check=True
    )
    platform_marks.leave_marks(local_platform, marker)
    report = {
        "platform": local_platform.environment(),
        "test": dict(os.environ),
        "child": json.loads(child.stdout),
        "operator": _operator_environment(local_platform, marker),
        "marks": platform_marks.marks_found(local_platform, marker),
    }
    Path(os.environ["MERIDIAN_TEST_PROBE_REPORT"]).write_text(json.dumps(report))
