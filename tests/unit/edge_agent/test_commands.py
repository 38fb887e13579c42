"""Configured commands run as argument lists: values are data, failures are reported."""

from __future__ import annotations

import json
from pathlib import Path

from meridian.edge_agent import commands
from tests.unit.edge_agent.conftest import RECORD_ARGV, created, python


async def test_shell_metacharacters_reach_the_program_verbatim(tmp_path: Path, pwned: Path) -> None:
    """`; touch`, `$(...)`, backticks and `&&` are one argument each, never a shell's."""
    out = tmp_path / "argv.json"
    hostile = [
        f"1.2.3; touch {pwned}",
        f"$(touch {pwned})",
        f"`touch {pwned}`",
        f"x && touch {pwned} | cat > {pwned}",
    ]
    result = await commands.run(python(RECORD_ARGV, str(out), *hostile), timeout_s=10)
    assert result.ok, result.detail
    assert json.loads(out.read_text()) == hostile
    assert not created(pwned)


async def test_a_failing_command_says_its_exit_code_and_output() -> None:
    result = await commands.run(
        python("import sys; print('emerg: unknown directive'); sys.exit(3)"), timeout_s=10
    )
    assert not result.ok
    assert "exited 3" in result.detail
    assert "unknown directive" in result.detail


async def test_a_command_over_its_time_is_killed_and_reported() -> None:
    result = await commands.run(python("import time; time.sleep(30)"), timeout_s=0.5)
    assert not result.ok
    assert "no result within 0.5s" in result.detail


async def test_a_missing_program_is_a_failure_not_an_exception(tmp_path: Path) -> None:
    result = await commands.run([str(tmp_path / "no-such-program")], timeout_s=5)
    assert not result.ok
    assert "cannot start" in result.detail
