"""infra/ansible passes Ansible's own syntax check and ansible-lint (production profile), offline."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ANSIBLE_DIR = Path(__file__).resolve().parents[3] / "infra" / "ansible"
BIN = Path(sys.executable).parent
PLAYBOOKS = ("bootstrap.yml", "upgrade.yml", "addons.yml")


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ.get('PATH', '')}",
        "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "NO_COLOR": "1",
    }
    return subprocess.run(
        argv, cwd=ANSIBLE_DIR, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_passes_the_syntax_check(playbook: str) -> None:
    # A static inventory: the syntax check must not need the Kubernetes API.
    result = _run(str(BIN / "ansible-playbook"), "-i", "localhost,", "--syntax-check", playbook)
    assert result.returncode == 0, result.stdout + result.stderr


def test_ansible_lint_passes_offline_on_the_production_profile() -> None:
    result = _run(str(BIN / "ansible-lint"), "--offline", "--profile", "production", "--strict")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert "0 failure(s), 0 warning(s)" in result.stdout + result.stderr
