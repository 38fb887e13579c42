"""Upgrades: run once per target as an argument list, each phase recorded, never retried blindly."""

from __future__ import annotations

import json
from pathlib import Path

from meridian.edge_agent import upgrade
from meridian.edge_agent.state import Applied
from tests.unit.edge_agent.conftest import created, python

# The install's part of an upgrade: record argv, write the new version where the agent reads it.
INSTALL = (
    "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[3:])); "
    "open(sys.argv[2], 'w').write(sys.argv[-1])"
)


async def _run(command: list[str], target: str, version_file: Path) -> tuple[Applied, list[str]]:
    phases: list[str] = []

    async def started(running: Applied) -> None:
        phases.append(str(running.upgrade_phase))

    result = await upgrade.run(
        target,
        Applied(),
        command=command,
        timeout_s=10,
        version=lambda: version_file.read_text() if version_file.exists() else "0.4.1",
        started=started,
    )
    return result, phases


async def test_upgrade_runs_the_command_with_the_version_as_one_argument(tmp_path: Path) -> None:
    argv, version = tmp_path / "argv.json", tmp_path / "VERSION"
    applied, phases = await _run(python(INSTALL, str(argv), str(version)), "0.5.0", version)
    assert phases == ["Running"]
    assert json.loads(argv.read_text()) == ["0.5.0"]
    assert (applied.upgrade_target, applied.upgrade_phase) == ("0.5.0", "Succeeded")


async def test_a_hostile_version_is_passed_as_data(tmp_path: Path, pwned: Path) -> None:
    argv, version = tmp_path / "argv.json", tmp_path / "VERSION"
    hostile = f"1.2.3; touch {pwned} $(touch {pwned})"
    applied, _ = await _run(python(INSTALL, str(argv), str(version)), hostile, version)
    assert json.loads(argv.read_text()) == [hostile]
    assert not created(pwned)
    assert applied.upgrade_phase == "Succeeded"


async def test_a_failing_command_fails_the_upgrade_with_its_output(tmp_path: Path) -> None:
    applied, phases = await _run(
        python("import sys; sys.exit('package not found')"), "0.5.0", tmp_path / "VERSION"
    )
    assert phases == ["Running"]
    assert applied.upgrade_phase == "Failed"
    assert "package not found" in str(applied.upgrade_message)


async def test_a_command_that_leaves_the_old_version_is_a_failure(tmp_path: Path) -> None:
    applied, _ = await _run(python("pass"), "0.5.0", tmp_path / "VERSION")
    assert applied.upgrade_phase == "Failed"
    assert "still 0.4.1" in str(applied.upgrade_message)


async def test_no_configured_command_fails_without_running_anything(tmp_path: Path) -> None:
    applied, phases = await _run([], "0.5.0", tmp_path / "VERSION")
    assert phases == []
    assert applied.upgrade_phase == "Failed"


def test_pending_decides_without_running() -> None:
    nothing = Applied()
    assert upgrade.pending(None, "0.4.1", nothing) is nothing
    assert upgrade.pending("0.5.0", "0.4.1", nothing) is None, "the command must run"
    done = upgrade.pending("0.4.1", "0.4.1", nothing)
    assert done is not None
    assert done.upgrade_phase == "Succeeded"
    assert upgrade.pending("0.4.1", "0.4.1", done) is done
    failed = Applied(upgrade_target="0.5.0", upgrade_phase="Failed", upgrade_message="x")
    assert upgrade.pending("0.5.0", "0.4.1", failed) is failed, "not retried for the same target"
    assert upgrade.pending("0.5.1", "0.4.1", failed) is None, "a new target is tried"
    assert upgrade.pending("0.5.0", "0.4.1", failed, retry=True) is None, "asked again: tried"
    interrupted = upgrade.pending(
        "0.5.0", "0.4.1", Applied(upgrade_target="0.5.0", upgrade_phase="Running")
    )
    assert interrupted is not None
    assert interrupted.upgrade_phase == "Failed"
    assert "interrupted" in str(interrupted.upgrade_message)
