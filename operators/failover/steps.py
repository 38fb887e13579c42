"""The steps of a run, each idempotent: it looks at the world before acting, and returns what it
changed. A step raises `StepFailed` (or any error) to fail the run; `runner` decides what then.

Non-idempotent actions are recorded in the journal in the same status write as their step's
success (`promoted`, `dnsSwitched`), and each checks the world first (pg_is_in_recovery, the
record's current value), so one killed between acting and writing does not act again.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, NamedTuple

import aiohttp
import asyncpg
from lightkube import AsyncClient

from meridian.core.api.v1alpha1 import failoverplan as api_types
from meridian.operators.failover import (
    agent,
    database,
    dns,
    endpoints,
    journal,
    readiness,
    reasons,
    sides,
    workloads,
)
from meridian.operators.failover.settings import FailoverPlanSettings


class StepFailed(Exception):
    pass


class Outcome(NamedTuple):
    message: str
    changed: tuple[str, ...] | list[str] = ()
    skipped: bool = False


@dataclass
class Context:
    api: AsyncClient
    namespace: str
    spec: api_types.FailoverPlanSpec
    settings: FailoverPlanSettings
    route53: dns.Route53
    move: sides.Sides
    run: journal.Run
    active_cluster: str | None
    save: journal.Saver
    last_lag: dict[str, Any] | None = None
    """status.lag as last measured standing by: an Emergency run's RPO when the primary is gone."""

    async def checkpoint(self) -> None:
        """Journal what the step learned before it acts on it (a restart must find it)."""
        await self.save(self.run, None)

    @property
    def timeout(self) -> float:
        return self.settings.dependency_timeout_s

    @property
    def practice(self) -> bool:
        return bool(self.run["mode"] == "Practice")

    @property
    def emergency(self) -> bool:
        return bool(self.run["mode"] == "Emergency")

    async def from_dsn(self) -> str:
        return await endpoints.dsn(self.api, self.namespace, self.move.from_db)

    async def to_dsn(self) -> str:
        return await endpoints.dsn(self.api, self.namespace, self.move.to_db)


async def preflight(ctx: Context) -> Outcome:
    found = await readiness.evaluate(
        ctx.api, ctx.namespace, ctx.spec, ctx.active_cluster, ctx.route53, ctx.settings
    )
    # The one way past the guard without Emergency: every failing check is cured by this run's
    # own Reseed step (a fenced former primary, or one that is down, with an instance agent).
    reseeds = "Reseed" in (s["name"] for s in ctx.run["steps"])
    cured = reseeds and found.ready.reason == reasons.RESEED_REQUIRED
    if found.ready.status != "True" and not ctx.emergency and not cured:
        raise StepFailed(f"not ready, nothing changed: {found.ready.message}")
    if found.lag:
        ctx.run["lagAtStart"] = found.lag
    elif ctx.emergency and ctx.last_lag:
        ctx.run["lagAtStart"] = ctx.last_lag  # the primary cannot be asked: its last known lag
    return Outcome(f"{found.ready.type} is {found.ready.status}: {found.ready.message}")


def reseed_id(run: journal.Run, which: str = "target") -> str:
    """The id the agent keys a run's re-seed by: a repeat of it joins or reads it, never redoes it."""
    return f"{run['id']}@{run['startedAt']}/{which}"


async def _standing(dsn: str, timeout_s: float) -> database.Standing | None:
    try:
        return await database.standing(dsn, timeout_s)
    except (OSError, TimeoutError, asyncpg.PostgresError):
        return None  # down (stopped for the re-seed, or crashed): a re-seed is what brings it back


class _Reseed(NamedTuple):
    """One re-seed: `server` must follow `primary` (endpoints and DSNs), keyed by `key`."""

    server: api_types.DatabaseEndpoint
    server_dsn: str
    primary: api_types.DatabaseEndpoint
    primary_dsn: str
    key: str


async def _follow(ctx: Context, job: _Reseed) -> Outcome:
    """Make `job.server` a streaming standby of `job.primary`: SQL decides whether that is
    needed; the server's instance agent does it (pg_rewind, else pg_basebackup). Keyed by
    `job.key`, so a restarted operator joins the re-seed in progress or finds it done, and
    never starts a second one."""
    host, primary = job.server.host, job.primary.host
    if await database.in_recovery(job.primary_dsn, ctx.timeout):
        raise StepFailed(f"{primary} is not a primary: nothing to re-seed {host} from")
    need = database.reseed_need(await _standing(job.server_dsn, ctx.timeout))
    if ctx.practice:
        if need == "streaming":
            return Outcome(f"{host} streams from {primary}: nothing to re-seed", skipped=True)
        return Outcome(f"would re-seed {host} as a standby of {primary} ({need})", skipped=True)
    done = await _done_reseed(ctx, job) if job.server.agent else None
    if need == "streaming":
        if done:  # re-seeded by this run before a restart: say so, with what it changed
            return Outcome(f"{host} {_reseeded(done, primary)}", [_change(done, job)])
        return Outcome(f"{host} already streams from {primary}: nothing to re-seed")
    if need == "refuse":
        raise StepFailed(
            f"{host} is a writable primary: refusing to re-seed it (its writes would be lost); "
            "fence or stop it first if it really is the stale side"
        )
    if job.server.agent is None:
        raise StepFailed(
            f"{host} is not a streaming replica and names no instance agent "
            "(spec.database.*.agent) to re-seed it: re-seed it by hand, then start a new run"
        )
    record = await _reseed_by_agent(ctx, job, job.server.agent)
    return Outcome(f"{host} {_reseeded(record, primary)}", [_change(record, job)])


async def reseed(ctx: Context) -> Outcome:
    """Before anything is fenced, the target must follow the source: the old primary of a
    failback (fenced, or down after an Emergency run) is re-seeded here."""
    job = _Reseed(
        ctx.move.to_db,
        await ctx.to_dsn(),
        ctx.move.from_db,
        await ctx.from_dsn(),
        reseed_id(ctx.run),
    )
    return await _follow(ctx, job)


async def reseed_source(ctx: Context) -> Outcome:
    """After the move, the fenced former primary follows the new one, so the plan stands ready
    for the way back (and the new primary has a replica again). Without an agent it stays
    fenced, and the next run's Reseed step needs one."""
    if ctx.practice:
        return Outcome(
            f"would re-seed {ctx.move.from_db.host} as a standby of {ctx.move.to_db.host}",
            skipped=True,
        )
    if ctx.move.from_db.agent is None:
        return Outcome(
            f"{ctx.move.from_db.host} names no instance agent: it stays fenced until re-seeded",
            skipped=True,
        )
    job = _Reseed(
        ctx.move.from_db,
        await ctx.from_dsn(),
        ctx.move.to_db,
        await ctx.to_dsn(),
        reseed_id(ctx.run, "source"),
    )
    return await _follow(ctx, job)


async def _done_reseed(ctx: Context, job: _Reseed) -> dict[str, Any] | None:
    assert job.server.agent is not None
    try:
        found = await agent.state(ctx.api, ctx.namespace, job.server.agent, ctx.timeout)
    except (aiohttp.ClientError, TimeoutError, agent.AgentError):
        return None
    record = found.get("reseed") or {}
    if record.get("id") == job.key and record.get("state") == "Succeeded":
        return dict(record)
    return None


def _reseeded(record: dict[str, Any], primary: str) -> str:
    return (
        f"re-seeded by {record.get('method')} as a standby of {primary} and streaming "
        f"({record.get('message') or 'done'})"
    )


def _change(record: dict[str, Any], job: _Reseed) -> str:
    return (
        f"database {job.server.host} re-seeded from {job.primary.host} "
        f"({record.get('method')}), now a streaming standby"
    )


async def _reseed_by_agent(
    ctx: Context, job: _Reseed, ref: api_types.InstanceAgent
) -> dict[str, Any]:
    async def ask() -> dict[str, Any]:
        answer = await agent.reseed(
            ctx.api, ctx.namespace, ref, ctx.timeout, job.key, job.primary_dsn
        )
        if answer.get("decision") == "current":
            return {"state": "Succeeded", "method": "none needed", "id": job.key}
        return dict(answer.get("reseed") or {})

    record = await ask()
    deadline = time.monotonic() + ctx.settings.reseed_timeout_s
    while record.get("state") in ("Running", "Interrupted"):
        if time.monotonic() > deadline:
            raise StepFailed(
                f"re-seed of {job.server.host} still {record.get('phase')} after "
                f"{ctx.settings.reseed_timeout_s:.0f} s"
            )
        await asyncio.sleep(ctx.settings.poll_s)
        try:
            found = await agent.state(ctx.api, ctx.namespace, ref, ctx.timeout)
        except (aiohttp.ClientError, TimeoutError):
            continue  # the agent restarting: its state file keeps the re-seed
        record = dict(found.get("reseed") or {})
        if record.get("state") == "Interrupted":  # the agent restarted: ask again, it resumes
            record = await ask()
        if record.get("id") != job.key:
            raise StepFailed(f"the agent of {job.server.host} lost re-seed {job.key}: {record}")
    if record.get("state") != "Succeeded":
        raise StepFailed(
            f"re-seed of {job.server.host} failed while {record.get('phase')}: "
            f"{record.get('message')}"
        )
    return record


async def fence_source(ctx: Context) -> Outcome:
    names = await _source_names(ctx)
    if ctx.practice:
        return Outcome(
            f"would scale {', '.join(names) or 'nothing'} to 0 in {ctx.move.from_cluster.name} and fence {ctx.move.from_db.host}",
            skipped=True,
        )
    changed: list[str] = []
    problems: list[str] = []
    try:
        async with endpoints.cluster(
            ctx.api, ctx.namespace, ctx.move.from_cluster, ctx.timeout
        ) as source:
            found, _ = await workloads.find(source, ctx.spec.services)
            before = ctx.run.setdefault("sourceReplicas", {})
            for w in found:
                before.setdefault(w.name, w.replicas)
            await ctx.checkpoint()
            changed += await workloads.scale(
                source, ctx.spec.services.namespace, [w.name for w in found], 0
            )
    except Exception as error:
        if not ctx.emergency:
            raise
        problems.append(f"source services not scaled down ({type(error).__name__}: {error})")
    try:
        primary = await ctx.from_dsn()
        lsn, ended = await database.fence(primary, ctx.timeout)
        replica_at = (
            await database.replication(primary, await ctx.to_dsn(), ctx.timeout)
        ).replay_lsn
        ctx.run["fencedLsn"] = lsn
        if replica_at:
            ctx.run["lagAtFenceBytes"] = await database.lsn_gap(
                lsn, replica_at, primary, ctx.timeout
            )
        changed.append(
            f"primary {ctx.move.from_db.host} read-only (default_transaction_read_only=on) at LSN {lsn}, {ended} sessions ended"
        )
    except Exception as error:
        if not ctx.emergency:
            raise
        problems.append(
            f"primary not fenced ({type(error).__name__}: {error}); it must stay down until re-seeded"
        )
    message = "source fenced" if not problems else "; ".join(problems)
    return Outcome(message, changed)


async def _source_names(ctx: Context) -> list[str]:
    try:
        async with endpoints.cluster(
            ctx.api, ctx.namespace, ctx.move.from_cluster, ctx.timeout
        ) as source:
            found, _ = await workloads.find(source, ctx.spec.services)
    except Exception:
        return list(ctx.spec.services.names)
    return [w.name for w in found]


async def wait_for_replay(ctx: Context) -> Outcome:
    lsn = ctx.run.get("fencedLsn")
    if ctx.practice:
        return Outcome("would wait for the replica to replay up to the fenced LSN", skipped=True)
    if not lsn:
        raise StepFailed("no fenced LSN in the journal")
    replica = await ctx.to_dsn()
    deadline = time.monotonic() + ctx.settings.replay_timeout_s
    while True:
        reached, at = await database.replayed_past(replica, lsn, ctx.timeout)
        if reached:
            ctx.run["rpoBytes"], ctx.run["rpoSeconds"] = 0, 0.0
            return Outcome(f"replica replayed up to {at} (fenced at {lsn}): nothing lost")
        if time.monotonic() > deadline:
            raise StepFailed(
                f"replica at {at} did not reach the fenced LSN {lsn} in {ctx.settings.replay_timeout_s:.0f} s"
            )
        await asyncio.sleep(ctx.settings.poll_s)


async def promote(ctx: Context) -> Outcome:
    if ctx.practice:
        return Outcome(f"would promote {ctx.move.to_db.host} (pg_promote)", skipped=True)
    if ctx.run.get("promoted"):
        return Outcome("already promoted by this run (journal)")
    replica = await ctx.to_dsn()
    if ctx.emergency and "rpoBytes" not in ctx.run:
        await _emergency_rpo(ctx, replica)
    promoted_now = await database.promote(replica, ctx.timeout)
    ctx.run["promoted"] = True
    changed = []
    if await database.is_fenced(replica, ctx.timeout):
        # A replica cloned from a fenced primary carries its postgresql.auto.conf, fence and all.
        await database.unfence(replica, ctx.timeout)
        changed.append(f"database {ctx.move.to_db.host} fence inherited from its seed removed")
    if not promoted_now:
        return Outcome(
            f"{ctx.move.to_db.host} was already a primary (pg_is_in_recovery false): not promoted again",
            changed,
        )
    return Outcome(
        f"{ctx.move.to_db.host} promoted",
        [f"database {ctx.move.to_db.host} promoted to primary (pg_promote)", *changed],
    )


async def _emergency_rpo(ctx: Context, replica: str) -> None:
    """RPO of an Emergency run: the lag last measured against the lost primary (bytes, seconds).
    Where the seconds were not known (no replay_lag reported yet), the age of the newest
    transaction the replica has replayed: an upper bound, it includes the time since the loss."""
    lag = ctx.run.get("lagAtStart") or {}
    ctx.run["rpoBytes"] = lag.get("bytes")
    seconds = lag.get("seconds")
    if seconds is None and lag.get("bytes") == 0:
        seconds = 0.0
    if seconds is None:
        seconds = await database.replay_age(replica, ctx.timeout)
    ctx.run["rpoSeconds"] = seconds


async def repoint_services(ctx: Context) -> Outcome:
    ref = ctx.spec.services.database_secret
    if ref is None:
        return Outcome("spec.services.databaseSecret unset: nothing to repoint", skipped=True)
    where = f"{ctx.move.to_cluster.name}:{ctx.spec.services.namespace}/{ref.name}"
    if ctx.practice:
        return Outcome(f"would point {where} key {ref.key} at {ctx.move.to_db.host}", skipped=True)
    dsn = await endpoints.services_dsn(ctx.api, ctx.namespace, ctx.move.to_db)
    namespace = ctx.spec.services.namespace
    async with endpoints.cluster(
        ctx.api, ctx.namespace, ctx.move.to_cluster, ctx.timeout
    ) as target:
        pointed = await workloads.point_secret(target, namespace, ref, dsn)
        # Pods read the Secret when they start: the ones a running Deployment has are replaced.
        found, _ = await workloads.find(target, ctx.spec.services)
        rolled = await workloads.roll(target, namespace, [w.name for w in found], dsn)
    changed = [f"secret {where} key {ref.key} → {ctx.move.to_db.host}"] if pointed else []
    if not changed and not rolled:
        return Outcome(f"{where} already points at {ctx.move.to_db.host}")
    return Outcome(f"{where} points at {ctx.move.to_db.host}", changed + rolled)


async def scale_up_target(ctx: Context) -> Outcome:
    replicas = ctx.spec.services.replicas
    async with endpoints.cluster(
        ctx.api, ctx.namespace, ctx.move.to_cluster, ctx.timeout
    ) as target:
        found, missing = await workloads.find(target, ctx.spec.services)
        if missing:
            raise StepFailed(
                f"Deployments missing in {ctx.move.to_cluster.name}: {', '.join(missing)}"
            )
        if ctx.practice:
            return Outcome(
                f"would scale {', '.join(w.name for w in found)} to {replicas} in {ctx.move.to_cluster.name}",
                skipped=True,
            )
        changed = await workloads.scale(
            target, ctx.spec.services.namespace, [w.name for w in found], replicas
        )
        ready = await workloads.wait_ready(
            target, ctx.spec.services, replicas, ctx.settings.scale_timeout_s, ctx.settings.poll_s
        )
    return Outcome(
        f"{len(ready)} Deployments Ready with {replicas} replicas in {ctx.move.to_cluster.name}",
        changed,
    )


async def switch_dns(ctx: Context) -> Outcome:
    record, value = ctx.spec.dns.record, ctx.move.to_value
    current = await ctx.route53.current_value(ctx.spec.dns)
    if ctx.practice:
        return Outcome(
            f"would UPSERT {record} {ctx.spec.dns.type} {current} → {value}", skipped=True
        )
    ctx.run["dnsBefore"] = ctx.run.get("dnsBefore") or current
    if current == value.rstrip("."):
        ctx.run["dnsSwitched"] = True
        return Outcome(f"{record} already points at {value}: not changed again")
    change = await ctx.route53.upsert(ctx.spec.dns, value)
    ctx.run["dnsSwitched"] = True
    return Outcome(
        f"{record} → {value} (Route53 change {change})",
        [f"dns {record} {ctx.spec.dns.type} {current} → {value} (TTL {ctx.spec.dns.ttl_seconds})"],
    )


async def _check(
    session: aiohttp.ClientSession, check: api_types.VerificationCheck, poll_s: float
) -> str | None:
    deadline = time.monotonic() + check.timeout_seconds
    last = "no answer"
    while True:
        try:
            async with session.get(check.url, allow_redirects=False) as response:
                if response.status == check.expect_status:
                    return None
                last = f"answered {response.status}, expected {check.expect_status}"
        except (TimeoutError, aiohttp.ClientError) as error:
            last = f"{type(error).__name__}: {error}"
        if time.monotonic() > deadline:
            return (
                f"check {check.name} ({check.url}) failed after {check.timeout_seconds} s: {last}"
            )
        await asyncio.sleep(poll_s)


async def verify(ctx: Context) -> Outcome:
    if ctx.practice:
        return Outcome(f"would run {len(ctx.spec.verification)} checks", skipped=True)
    timeout = aiohttp.ClientTimeout(total=ctx.timeout)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        for check in ctx.spec.verification:
            failed = await _check(session, check, ctx.settings.poll_s)
            if failed:
                raise StepFailed(failed)
    replica = await ctx.to_dsn()
    if not await database.accepts_writes(replica, ctx.timeout):
        raise StepFailed(f"{ctx.move.to_db.host} does not accept writes")
    return Outcome(
        f"{len(ctx.spec.verification)} checks passed; {ctx.move.to_db.host} accepts writes"
    )


STEPS = {
    "Preflight": preflight,
    "Reseed": reseed,
    "FenceSource": fence_source,
    "WaitForReplay": wait_for_replay,
    "Promote": promote,
    "RepointServices": repoint_services,
    "ScaleUpTarget": scale_up_target,
    "SwitchDNS": switch_dns,
    "Verify": verify,
    "ReseedSource": reseed_source,
}
