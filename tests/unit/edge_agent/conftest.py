"""Helpers for the edge agent's unit tests: real programs (this Python) as the configured commands."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest


def python(code: str, *args: str) -> list[str]:
    """An argument list running `code` with this interpreter: a real command, no shell."""
    return [sys.executable, "-c", code, *args]


# Writes its argv (after the script) as JSON to the file named by its first argument.
RECORD_ARGV = "import json, sys; open(sys.argv[1], 'w').write(json.dumps(sys.argv[2:]))"


@pytest.fixture
def pwned(tmp_path: Path) -> Path:
    """The file a shell-interpreted value would create; tests assert it never exists."""
    return tmp_path / "pwned"


def created(path: Path) -> bool:
    """Whether a file exists (sync, so async tests do not call blocking path checks inline)."""
    return path.exists()
