"""`meridian dev up / env / status / down` as a developer types them (what `make up`/`down` run)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from meridian.localplatform import platform

ROOT = Path(__file__).resolve().parents[2]


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "meridian", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _meridian(*args: str, env: dict[str, str]) -> str:
    result = _run(*args, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def cli_env() -> Iterator[dict[str, str]]:
    run_dir = platform.default_run_dir().parent / f"cli-{uuid.uuid4().hex[:6]}"
    # KUBECONFIG stays the session's cluster, as in a shell after `meridian dev env`: never adopted.
    env = {**os.environ, "MERIDIAN_RUN_DIR": str(run_dir), "PYTHONPATH": os.pathsep.join(sys.path)}
    yield env
    platform.down(run_dir)
    shutil.rmtree(run_dir, ignore_errors=True)


def test_up_env_status_down_leaves_no_process_running(cli_env: dict[str, str]) -> None:
    _meridian(
        "dev",
        "up",
        "--no-datastores",
        "--crds",
        str(ROOT / "crds"),
        "--operators",
        "--apply",
        str(ROOT / "crds" / "examples"),
        env=cli_env,
    )

    exports = _meridian("dev", "env", env=cli_env)
    assert f"export MERIDIAN_RUN_DIR={cli_env['MERIDIAN_RUN_DIR']}" in exports
    assert "export KUBECONFIG=" in exports
    assert "export PATH=" in exports
    assert ':"$PATH"' in exports

    status = _meridian("dev", "status", env=cli_env).splitlines()
    rows = [line.split() for line in status[1:-1]]
    names = {row[0] for row in rows}
    assert {"primary-etcd", "primary-kube-apiserver", "primary-kwok", "operators"} <= names
    assert all(row[2] == "running" for row in rows)
    pids = [int(row[1]) for row in rows]

    stopped = _meridian("dev", "down", env=cli_env).splitlines()
    # Reverse start order: the example EdgeNodes' agents (started last), then the operators, etcd last.
    agents = [line for line in stopped if line.startswith("stopped edge-agent-")]
    assert len(agents) == 12
    assert stopped[: len(agents)] == agents
    assert stopped[len(agents)] == "stopped operators"
    assert stopped[-1] == "stopped primary-etcd"
    assert [pid for pid in pids if _running(pid)] == []


def test_up_adopts_an_existing_cluster_only_when_asked_and_says_so_loudly(
    cli_env: dict[str, str], local_platform: platform.PlatformState
) -> None:
    """`--adopt-kubeconfig`: no control plane started, a banner on stderr, `dev env` exports it."""
    adopted = _run(
        *("dev", "up", "--no-datastores", "--adopt-kubeconfig", local_platform.kubeconfig),
        env=cli_env,
    )
    assert adopted.returncode == 0, adopted.stderr[-3000:]
    assert f"ADOPTED A CLUSTER THIS PLATFORM DID NOT START: {local_platform.kubeconfig}" in (
        adopted.stderr
    )
    assert _run("dev", "status", env=cli_env).stdout == "nothing running\n"
    exports = _meridian("dev", "env", env=cli_env)
    assert f"export KUBECONFIG={local_platform.kubeconfig}" in exports
