"""The local node's upgrade command, run by the agent's upgrade step as a real subprocess."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from meridian.edge_agent import upgrade
from meridian.edge_agent.state import Applied
from tests.unit.edge_agent.conftest import created


def command(version_file: Path, record: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "meridian.edge_agent.localupgrade",
        "--version-file",
        str(version_file),
        "--node",
        "n1",
        "--record",
        str(record),
        *extra,
    ]


async def _run(argv: list[str], target: str, version_file: Path) -> Applied:
    async def started(_: Applied) -> None:
        return None

    return await upgrade.run(
        target,
        Applied(),
        command=argv,
        timeout_s=30,
        version=lambda: version_file.read_text().strip(),
        started=started,
    )


def _events(record: Path) -> list[tuple[str, str, str]]:
    lines = [json.loads(line) for line in record.read_text().splitlines()]
    return [(line["event"], line["node"], line["version"]) for line in lines]


async def test_it_installs_the_version_the_agent_then_reports(tmp_path: Path) -> None:
    version, record = tmp_path / "version", tmp_path / "record.jsonl"
    version.write_text("1.0.0\n")
    applied = await _run(command(version, record), "1.1.0", version)
    assert (applied.upgrade_phase, applied.upgrade_target) == ("Succeeded", "1.1.0")
    assert version.read_text() == "1.1.0\n"
    assert _events(record) == [("start", "n1", "1.1.0"), ("done", "n1", "1.1.0")]


async def test_told_to_fail_it_fails_and_leaves_the_old_version(tmp_path: Path) -> None:
    version, record = tmp_path / "version", tmp_path / "record.jsonl"
    version.write_text("1.0.0\n")
    applied = await _run(command(version, record, "--fail"), "1.1.0", version)
    assert applied.upgrade_phase == "Failed"
    assert "postinst exited 1" in str(applied.upgrade_message)
    assert version.read_text() == "1.0.0\n"
    assert _events(record) == [("start", "n1", "1.1.0"), ("fail", "n1", "1.1.0")]


async def test_a_version_with_shell_metacharacters_is_refused_as_data(
    tmp_path: Path, pwned: Path
) -> None:
    version, record = tmp_path / "version", tmp_path / "record.jsonl"
    version.write_text("1.0.0\n")
    hostile = f"1.2.3; touch {pwned} $(touch {pwned})"
    applied = await _run(command(version, record), hostile, version)
    assert applied.upgrade_phase == "Failed"
    assert "not a version" in str(applied.upgrade_message)
    assert not created(pwned)
    assert version.read_text() == "1.0.0\n"
