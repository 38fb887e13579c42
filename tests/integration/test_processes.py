"""The supervisor behind `make down`: it stops what it started, children included, by PID."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from meridian.localplatform.processes import ProcessSpec, Supervisor


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_stop_all_kills_the_leader_and_its_children(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path)
    child_pid_file = tmp_path / "child.pid"
    # A leader that ignores SIGTERM and leaves a child behind, like a misbehaving server wrapper.
    script = f"trap '' TERM; sleep 300 & echo $! > {child_pid_file}; wait"
    leader = supervisor.start(ProcessSpec(name="stubborn", argv=["bash", "-c", script]))
    for _ in range(50):
        if child_pid_file.exists() and child_pid_file.read_text().strip():
            break
        time.sleep(0.1)
    child = int(child_pid_file.read_text())
    assert _alive(leader)
    assert _alive(child)

    stopped = supervisor.stop_all(timeout=1.0)

    assert stopped == ["stubborn"]
    assert not _alive(leader)
    assert not _alive(child)
    assert supervisor.records() == []


def test_start_is_idempotent_while_the_process_lives(tmp_path: Path) -> None:
    supervisor = Supervisor(tmp_path)
    spec = ProcessSpec(name="sleeper", argv=["sleep", "300"], stop_signal=signal.SIGINT)
    first = supervisor.start(spec)
    try:
        assert supervisor.start(spec) == first
    finally:
        supervisor.stop_all()
    assert not _alive(first)


def test_a_recycled_pid_is_not_mistaken_for_ours(tmp_path: Path) -> None:
    """A record whose start time does not match the live process is treated as exited."""
    supervisor = Supervisor(tmp_path)
    supervisor.start(ProcessSpec(name="sleeper", argv=["sleep", "300"]))
    record_file = tmp_path / "pids" / "sleeper.json"
    record = record_file.read_text()
    pid = supervisor.records()[0].pid
    record_file.write_text(record.replace('"start_time": ', '"start_time": 1'))
    try:
        assert supervisor.exited("sleeper")
    finally:
        os.killpg(pid, signal.SIGKILL)
        supervisor.stop_all()  # forgets the record; the child is reaped, not left a zombie
    assert not Path(f"/proc/{pid}").exists()


def test_a_child_that_died_on_its_own_is_reaped(tmp_path: Path) -> None:
    """A crashed server is collected the next time anyone asks, not left a zombie until exit."""
    supervisor = Supervisor(tmp_path)
    pid = supervisor.start(ProcessSpec(name="crasher", argv=["sleep", "300"]))
    os.killpg(pid, signal.SIGKILL)
    for _ in range(50):
        if not _alive(pid):
            break
        time.sleep(0.05)
    assert Path(f"/proc/{pid}").exists()  # a zombie: dead, not yet collected
    assert supervisor.exited("crasher")
    assert not Path(f"/proc/{pid}").exists()
    supervisor.stop_all()


def test_kill_crashes_a_known_process_and_refuses_an_unknown_name(tmp_path: Path) -> None:
    """A crash test that misnames its victim fails instead of passing having crashed nothing."""
    supervisor = Supervisor(tmp_path)
    pid = supervisor.start(ProcessSpec(name="victim", argv=["sleep", "300"]))
    assert supervisor.kill("victim") == pid
    assert not _alive(pid)
    assert supervisor.records() == []
    with pytest.raises(LookupError, match="'victim'"):
        supervisor.kill("victim")  # forgotten once killed
    with pytest.raises(LookupError, match="'svc-nonesuch'"):
        supervisor.kill("svc-nonesuch")
