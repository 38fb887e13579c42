"""A tiny process supervisor: start servers detached, remember them by PID, stop them all.

`meridian dev up` exits while the servers keep running, so what it started is recorded in the run
directory (`pids/NN-name.json`: pid, start time, stop signal). `down` stops them in reverse start
order, by process group, and checks the start time first so that a recycled PID is never killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from meridian.localplatform import net

SERVICE_USER = "meridian"

# Processes this interpreter started, so it can reap them when stopped (no zombies, and no
# "subprocess is still running" warning from a Popen collected while its server runs on).
_CHILDREN: dict[int, subprocess.Popen[bytes]] = {}


def _reap_exited() -> None:
    """Collect the children that exited on their own (crashed, or killed by someone else), so no
    zombie lingers and no Popen is left to warn at interpreter exit."""
    for pid, child in list(_CHILDREN.items()):
        if child.poll() is not None:
            del _CHILDREN[pid]


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    argv: Sequence[str]
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    unprivileged: bool = False
    """Run as the `meridian` system user when we are root (PostgreSQL and friends refuse root)."""
    stop_signal: int = signal.SIGTERM


def _start_time(pid: int) -> int | None:
    """The process start time in clock ticks since boot, or None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name (field 2) may hold spaces, so split after its closing paren.
    return int(stat.rsplit(")", 1)[1].split()[19])


def service_user() -> pwd.struct_passwd | None:
    """The account servers run as: `meridian` when we are root, else ourselves (None)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                "--home-dir",
                "/nonexistent",
                SERVICE_USER,
            ],
            check=True,
        )
        return pwd.getpwnam(SERVICE_USER)


def run_checked(
    argv: Sequence[str],
    *,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    as_service_user: bool = False,
) -> str:
    """Run a short command to completion and return its stdout; a failure raises with the
    command and the tail of what it printed, so a platform that cannot start says why."""
    user = service_user() if as_service_user else None
    result = subprocess.run(
        list(argv),
        input=stdin,
        env=None if env is None else dict(env),
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        user=user.pw_uid if user else None,
        group=user.pw_gid if user else None,
        extra_groups=[] if user else None,
    )
    if result.returncode != 0:
        said = (result.stderr.strip() or result.stdout.strip())[-4000:]
        raise RuntimeError(f"{' '.join(argv)} failed (exit {result.returncode}): {said}")
    return result.stdout


def chown_to_service_user(path: Path) -> None:
    user = service_user()
    if user is not None:
        for root, dirs, files in os.walk(path):
            for name in [
                root,
                *(os.path.join(root, d) for d in dirs),
                *(os.path.join(root, f) for f in files),
            ]:
                os.chown(name, user.pw_uid, user.pw_gid)


@dataclass(frozen=True)
class ProcessRecord:
    """What `pids/<name>.json` remembers of a started process."""

    name: str
    pid: int
    start_time: int | None
    stop_signal: int
    started_ns: int

    @classmethod
    def load(cls, path: Path) -> ProcessRecord:
        return cls(**json.loads(path.read_text()))

    def rss_bytes(self) -> int:
        """Resident memory of the whole process group (a postmaster and its backends, say)."""
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == self.pid:  # field 5, pgrp
                total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")  # field 24, rss pages
        return total

    @property
    def alive(self) -> bool:
        """Same PID *and* same start time (a recycled PID is not ours), and not a zombie."""
        started = _start_time(self.pid)
        if started is None or started != self.start_time:
            return False
        state = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"


class Supervisor:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.pid_dir = run_dir / "pids"
        self.log_dir = run_dir / "logs"

    def start(self, spec: ProcessSpec) -> int:
        _reap_exited()
        self.pid_dir.mkdir(parents=True, exist_ok=True)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        existing = self._record(spec.name)
        if existing and existing.alive:
            return existing.pid
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **spec.env}
        user = service_user() if spec.unprivileged else None
        log = (self.log_dir / f"{spec.name}.log").open("ab")
        process = subprocess.Popen(
            list(spec.argv),
            cwd=spec.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            extra_groups=[] if user else None,
        )
        log.close()
        _CHILDREN[process.pid] = process
        record = ProcessRecord(
            name=spec.name,
            pid=process.pid,
            start_time=_start_time(process.pid),
            stop_signal=int(spec.stop_signal),
            started_ns=time.time_ns(),
        )
        (self.pid_dir / f"{spec.name}.json").write_text(json.dumps(asdict(record)))
        return process.pid

    def _record(self, name: str) -> ProcessRecord | None:
        path = self.pid_dir / f"{name}.json"
        return ProcessRecord.load(path) if path.exists() else None

    def records(self) -> list[ProcessRecord]:
        """Every recorded process, in start order."""
        if not self.pid_dir.exists():
            return []
        found = [ProcessRecord.load(path) for path in self.pid_dir.glob("*.json")]
        return sorted(found, key=lambda record: record.started_ns)

    def exited(self, name: str) -> bool:
        _reap_exited()
        record = self._record(name)
        return record is None or not record.alive

    def log_tail(self, name: str, lines: int = 30) -> str:
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def wait_ready(self, name: str, check: Callable[[], bool], *, timeout: float) -> None:
        """Wait until `check()` holds; fail early, with the log tail, if the process dies."""
        net.wait_until(
            check,
            what=name,
            timeout=timeout,
            died=lambda: self.exited(name),
            diagnostics=lambda: self.log_tail(name),
        )

    def stop(self, name: str, timeout: float = 20.0) -> None:
        record = self._record(name)
        if record is None:
            return
        if record.alive:
            _signal_group(record.pid, record.stop_signal)
            deadline = time.monotonic() + timeout
            while record.alive and time.monotonic() < deadline:
                time.sleep(0.1)
            if record.alive:
                _signal_group(record.pid, signal.SIGKILL)
            self._wait_gone(record)
        self._forget(record)

    def kill(self, name: str) -> int:
        """Crash it: SIGKILL to the whole group at once, as the OOM killer would; returns the pid
        it killed once it is gone. An unknown name raises `LookupError`: a crash test that names
        a process this supervisor never started must fail, not pass having crashed nothing."""
        record = self._record(name)
        if record is None:
            raise LookupError(f"no process {name!r} recorded in {self.pid_dir}")
        if record.alive:  # never signal a group whose leader is not ours any more
            _signal_group(record.pid, signal.SIGKILL)
            self._wait_gone(record)
        self._forget(record)
        return record.pid

    @staticmethod
    def _wait_gone(record: ProcessRecord) -> None:
        while record.alive:
            time.sleep(0.05)
        # Children that outlive their leader (a postgres backend, an Erlang port) share its group:
        # killed too, and waited for, so `make down` returns only once nothing of it runs.
        _signal_group(record.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10.0
        while _group_members(record.pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def _forget(self, record: ProcessRecord) -> None:
        child = _CHILDREN.pop(record.pid, None)
        if child is not None:
            child.wait()
        (self.pid_dir / f"{record.name}.json").unlink(missing_ok=True)

    def stop_all(self, timeout: float = 20.0) -> list[str]:
        """Stop everything in reverse start order; each gets `timeout` s to exit on its own."""
        stopped = []
        for record in reversed(self.records()):
            self.stop(record.name, timeout)
            stopped.append(record.name)
        return stopped


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # it exited while we looked
            continue
        if fields[0] != "Z" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
