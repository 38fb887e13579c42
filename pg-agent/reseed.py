"""Re-seed the agent's server as a streaming standby of another: stop it, pg_rewind it onto the
primary's timeline (falling back to pg_basebackup when rewind cannot: no wal_log_hints, a crashed
target, WAL the primary no longer has), point it at the primary, start it, wait for streaming.

One re-seed at a time, keyed by the caller's id (the FailoverPlan's run id): a request with the
id of the running one joins it, one with the id of a finished one gets its outcome and changes
nothing. The last re-seed is kept in `state_file`, so a restarted agent still answers for it; one
the agent was killed in the middle of is started again by its next request (each of its phases
is safe to repeat: the server is stopped, rewound or cloned, configured again).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import shutil
import time
from dataclasses import dataclass
from typing import Any, Literal

import asyncpg

from meridian.pg_agent import conninfo
from meridian.pg_agent.server import Server, ServerState

Decision = Literal["join", "busy", "done", "current", "refuse", "start"]


def decide(
    last: dict[str, Any] | None, request_id: str, upstream: str, running: bool, server: ServerState
) -> Decision:
    """What a re-seed request does, from the last re-seed, whether one runs now, and the server.

    join: the running one is this request's; busy: another id's runs; done: this id finished;
    current: the server already streams from that primary (nothing to do); refuse: the server is
    a writable primary (re-seeding it would throw away writes); start: re-seed now."""
    same = last is not None and last.get("id") == request_id
    if running:
        return "join" if same else "busy"
    if same and last is not None and last.get("state") in ("Succeeded", "Failed"):
        return "done"
    if server.running and not server.in_recovery and not server.read_only:
        return "refuse"
    if (
        server.running
        and server.in_recovery
        and server.streaming
        and server.upstream == conninfo.endpoint(upstream)
    ):
        return "current"
    return "start"


async def _checkpoint(primary: str) -> str:
    try:
        conn = await asyncpg.connect(primary, timeout=10, command_timeout=120)
    except (OSError, TimeoutError, asyncpg.PostgresError) as error:
        return f"no CHECKPOINT on the primary ({type(error).__name__}: {error})"
    try:
        await conn.execute("CHECKPOINT")
    except asyncpg.PostgresError as error:  # not superuser nor pg_checkpoint: rewind may still do
        return f"no CHECKPOINT on the primary ({type(error).__name__}: {error})"
    finally:
        await conn.close()
    return "CHECKPOINT on the primary"


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


@dataclass
class Reseeder:
    server: Server
    task: asyncio.Task[None] | None = None

    def last(self) -> dict[str, Any] | None:
        path = self.server.settings.state_file
        if not path.exists():
            return None
        found: dict[str, Any] = json.loads(path.read_text())
        if found.get("state") == "Running" and not self.running:
            found["state"] = "Interrupted"  # the agent died in it; the next request restarts it
        return found

    def _save(self, record: dict[str, Any]) -> None:
        path = self.server.settings.state_file
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(record))
        temporary.chmod(0o600)
        temporary.replace(path)

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    async def request(self, request_id: str, primary: str) -> tuple[Decision, dict[str, Any]]:
        """Start, join or answer a re-seed; returns the decision and the re-seed's record."""
        last = self.last()
        state = await self.server.state()
        decision = decide(
            last, request_id, conninfo.split_password(primary)[0], self.running, state
        )
        if decision != "start":
            return decision, last or {}
        upstream = conninfo.endpoint(primary)
        record = {
            "id": request_id,
            "state": "Running",
            "phase": "Starting",
            "method": None,
            "upstream": f"{upstream[0]}:{upstream[1]}",
            "message": "",
            "startedAt": _now(),
            "finishedAt": None,
            "count": int((last or {}).get("count") or 0) + 1,
        }
        self._save(record)
        self.task = asyncio.create_task(self._run(record, primary))
        return decision, record

    def _phase(self, record: dict[str, Any], phase: str, message: str = "") -> None:
        record.update(phase=phase, message=message or record["message"])
        self._save(record)

    async def _run(self, record: dict[str, Any], primary: str) -> None:
        try:
            await self._reseed(record, primary)
            record.update(state="Succeeded", phase="Streaming", finishedAt=_now())
        except Exception as error:  # every failure ends up in the record the caller polls
            record.update(
                state="Failed", finishedAt=_now(), message=f"{type(error).__name__}: {error}"[:2000]
            )
        self._save(record)

    async def _reseed(self, record: dict[str, Any], primary: str) -> None:
        server, settings = self.server, self.server.settings
        bare, password = conninfo.split_password(primary)
        env = {"PGPASSWORD": password} if password else {}
        data = str(settings.data_dir)
        self._phase(record, "Stopping", await server.stop())
        # pg_rewind reads the source's timeline from its control file, which a just-promoted
        # server updates only at its first checkpoint (requested, spread over minutes): before
        # it, rewind sees one timeline, says "no rewind required" and the server cannot follow.
        self._phase(record, "Rewinding", await _checkpoint(primary))
        status, said = await server.command(
            [server.bin("pg_rewind"), "--target-pgdata", data, "--source-server", bare],
            env=env,
        )
        if status == 0:
            record["method"] = "pg_rewind"
            rewound = said.splitlines()[-1] if said else "done"
            self._phase(record, "Configuring", rewound)
        else:
            why = said.splitlines()[-1] if said else f"exit {status}"
            self._phase(record, "Cloning", f"pg_rewind impossible ({why}); pg_basebackup instead")
            for child in settings.data_dir.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child)
                else:
                    child.unlink()
            status, said = await server.command(
                [
                    *(server.bin("pg_basebackup"), "--dbname", bare, "--pgdata", data),
                    *("--wal-method=stream", "--checkpoint=fast"),
                ],
                env=env,
            )
            if status != 0:
                raise RuntimeError(f"pg_basebackup failed (exit {status}): {said}")
            record["method"] = "pg_basebackup"
            self._phase(record, "Configuring")
        auto_conf = settings.data_dir / conninfo.AUTO_CONF
        text = auto_conf.read_text() if auto_conf.exists() else ""
        auto_conf.write_text(conninfo.with_primary_conninfo(text, primary))
        auto_conf.chmod(0o600)
        server.own(auto_conf)
        signal_file = settings.data_dir / conninfo.STANDBY_SIGNAL
        signal_file.touch()
        server.own(signal_file)
        self._phase(record, "StartingServer")
        await server.start()
        self._phase(record, "WaitingForStreaming")
        deadline = time.monotonic() + settings.streaming_timeout_s
        while True:
            state = await server.state()
            if state.in_recovery and state.streaming:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"started, but not streaming after {settings.streaming_timeout_s:.0f} s: "
                    f"{state.to_json()}"
                )
            await asyncio.sleep(settings.poll_s)
