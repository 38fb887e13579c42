"""Runs (or resumes) one run of a plan: the steps in order, each journaled before and after.

What a failure does depends on where it happens. Before promotion nothing is lost by going
back, so the source is un-fenced (writes allowed again, its services scaled back) and the run
is Failed with the step named. From promotion on the runner never undoes anything on its own
(two writable primaries are worse than a stopped run): it stops, leaves the world as it is,
reports where DNS points, and says what on-call must do.
"""

from __future__ import annotations

import asyncio
from typing import Any

from meridian.core import events
from meridian.operators.failover import (
    database,
    endpoints,
    journal,
    metrics,
    reasons,
    steps,
    workloads,
)
from meridian.operators.machinery.reconciler import Request


async def execute(
    ctx: steps.Context, save: journal.Saver, request: Request[Any, Any]
) -> journal.Run:
    run = ctx.run
    order = [s["name"] for s in run["steps"]]
    if all(s["state"] == "Pending" for s in run["steps"]):
        what = f"{run['mode']} {run['direction']} ({ctx.move.from_cluster.name} → {ctx.move.to_cluster.name})"
        await _event(request, "Normal", reasons.RUN_STARTED, f"run {run['id']}: {what}")
    for name in order:
        if journal.passed(run, name):
            continue
        journal.start(run, name)
        await save(run, None)
        try:
            outcome = await steps.STEPS[name](ctx)
            if ctx.settings.fault_drill_pause_s:
                await asyncio.sleep(ctx.settings.fault_drill_pause_s)
        except Exception as error:  # every failure is journaled; the kind decides what follows
            why = (
                str(error)
                if isinstance(error, steps.StepFailed)
                else f"{type(error).__name__}: {error}"
            )
            journal.finish(run, name, "Failed", why, [])
            _observe(run, name)
            await _fail(ctx, run, name, why, save, request)
            return run
        journal.finish(
            run,
            name,
            "Skipped" if outcome.skipped else "Succeeded",
            outcome.message,
            list(outcome.changed),
        )
        _observe(run, name)
        active = ctx.move.to_cluster.name if name == "SwitchDNS" and not ctx.practice else None
        await save(run, active)
        await _event(
            request, "Normal", reasons.STEP_SUCCEEDED, f"run {run['id']}: {name}: {outcome.message}"
        )
    finished = journal.now()
    run.update(state="Succeeded", finishedAt=finished)
    metrics.RUNS.labels(run["mode"], "Succeeded").inc()
    if ctx.practice:
        run["message"] = "practice: every check passed and every step walked; nothing changed"
    else:
        # To verified, not to the end: re-seeding the former primary afterwards moves nothing.
        verified = journal.step(run, "Verify").get("finishedAt") or finished
        run["rtoSeconds"] = round(journal.seconds_between(run["startedAt"], verified), 3)
        run["message"] = (
            f"production on {ctx.move.to_cluster.name}; RTO {run['rtoSeconds']:.1f} s, RPO {run.get('rpoBytes')} bytes"
        )
    await save(run, None)
    return run


async def _fail(
    ctx: steps.Context,
    run: journal.Run,
    failed: str,
    why: str,
    save: journal.Saver,
    request: Request[Any, Any],
) -> None:
    order = [s["name"] for s in run["steps"]]
    after_promotion = run.get("promoted") or order.index(failed) > order.index(
        journal.NON_IDEMPOTENT_AFTER
    )
    if ctx.practice:
        message = f"practice: {failed} failed: {why}"
    elif not after_promotion:
        undone = await _unfence(ctx, run)
        message = f"{failed} failed before promotion: {why}. Source un-fenced: {undone}"
    else:
        dns_now = await _dns_now(ctx)
        message = (
            f"{failed} failed after promotion: {why}. Nothing was undone: {ctx.move.to_db.host} is "
            f"primary, {ctx.move.from_db.host} stays fenced; DNS {ctx.spec.dns.record} points at "
            f"{dns_now}. On-call: fix what {failed} reports and finish by hand (or start a new run), "
            f"never un-fence {ctx.move.from_db.host} before it is re-seeded as a replica."
        )
    run.update(state="Failed", finishedAt=journal.now(), message=message[:4000])
    metrics.RUNS.labels(run["mode"], "Failed").inc()
    await save(run, None)
    await _event(request, "Warning", reasons.STEP_FAILED, f"run {run['id']}: {message}")


async def _unfence(ctx: steps.Context, run: journal.Run) -> str:
    done = []
    if journal.step(run, "FenceSource")["state"] == "Pending":
        return "nothing was fenced"
    try:
        await database.unfence(await ctx.from_dsn(), ctx.timeout)
        done.append(f"{ctx.move.from_db.host} writable again")
    except Exception as error:
        done.append(f"{ctx.move.from_db.host} NOT un-fenced ({type(error).__name__}: {error})")
    before = run.get("sourceReplicas") or {}
    try:
        async with endpoints.cluster(
            ctx.api, ctx.namespace, ctx.move.from_cluster, ctx.timeout
        ) as source:
            for name, replicas in before.items():
                await workloads.scale(source, ctx.spec.services.namespace, [name], int(replicas))
        if before:
            done.append("services scaled back: " + ", ".join(f"{n}={r}" for n, r in before.items()))
    except Exception as error:
        done.append(f"services NOT scaled back ({type(error).__name__}: {error})")
    return "; ".join(done)


async def _dns_now(ctx: steps.Context) -> str:
    try:
        return str(await ctx.route53.current_value(ctx.spec.dns))
    except Exception as error:
        return f"(unknown: {type(error).__name__}: {error})"


async def _event(
    request: Request[Any, Any], type: events.EventType, reason: str, message: str
) -> None:
    try:
        await events.post(
            request.api, request.body, type=type, reason=reason, message=message[:1000]
        )
    except Exception as error:  # Events are best-effort; the journal is the record
        request.logger.warning("Event not posted", extra={"reason": reason, "error": str(error)})


def _observe(run: journal.Run, name: str) -> None:
    for step, state, seconds in journal.durations(run):
        if step == name and seconds is not None:
            metrics.STEP_SECONDS.labels(step, state).observe(seconds)
