"""`kubectl meridian failover start|approve|status`: on-call's handle on a FailoverPlan.

`start` writes the run request (`spec.run`, a new id each time, so a repeated command with the
same id starts nothing new); `approve` writes `spec.approval` for one run id (an Emergency run
needs it before it is accepted); `status` prints readiness and the run's journal as a table,
each step with its duration, then what the run measured (RPO, RTO) and its last message.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from typing import TYPE_CHECKING, Any

from lightkube import AsyncClient
from lightkube.types import PatchType

from meridian.core import kube
from meridian.plugin import run, table

if TYPE_CHECKING:
    from meridian.plugin import Commands

RESOURCE = kube.RESOURCES["FailoverPlan"]


def _patch_spec(spec: dict[str, Any]) -> run.AsyncHandler:
    async def handler(client: AsyncClient, args: argparse.Namespace) -> int:
        await client.patch(
            RESOURCE,  # type: ignore[type-var]
            args.plan,
            {"spec": spec},
            namespace=args.namespace,
            patch_type=PatchType.MERGE,
        )
        return 0

    return handler


async def _start(client: AsyncClient, args: argparse.Namespace) -> int:
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
    run_id = args.id or f"{args.mode.lower()}-{stamp}"
    request = {"id": run_id, "mode": args.mode, "direction": args.direction, "reason": args.reason}
    await _patch_spec({"run": request})(client, args)
    print(f"failoverplan/{args.plan}: run {run_id} requested ({args.mode}, {args.direction})")
    return 0


async def _approve(client: AsyncClient, args: argparse.Namespace) -> int:
    approval = {"runId": args.run_id, "by": args.by, "reason": args.reason}
    await _patch_spec({"approval": approval})(client, args)
    print(f"failoverplan/{args.plan}: run {args.run_id} approved by {args.by}")
    return 0


def _seconds(start: str | None, end: str | None) -> str | None:
    if not start or not end:
        return None
    took = datetime.datetime.fromisoformat(end) - datetime.datetime.fromisoformat(start)
    return f"{took.total_seconds():.1f}s"


def render(status: dict[str, Any]) -> str:
    """The plan's readiness and its run's journal, as `status` prints them."""
    conditions = {c["type"]: c for c in status.get("conditions") or []}
    ready = conditions.get("ReadyToFailover", {})
    lag = status.get("lag") or {}
    lines = [
        f"Active side: {status.get('activeCluster')}   Phase: {status.get('phase')}   "
        f"ReadyToFailover: {ready.get('status')} ({ready.get('reason')})   "
        f"Lag: {lag.get('bytes')} bytes, {lag.get('seconds')} s",
    ]
    current = status.get("run")
    if not current:
        return "\n".join([*lines, "No run yet."]) + "\n"
    lines.append(
        f"Run {current['id']} ({current['mode']}, {current['direction']}): {current['state']}   "
        f"RTO {current.get('rtoSeconds')} s   RPO {current.get('rpoBytes')} bytes, "
        f"{current.get('rpoSeconds')} s"
    )
    rows = [
        [
            step["name"],
            step["state"],
            step.get("startedAt"),
            _seconds(step.get("startedAt"), step.get("finishedAt")),
            (step.get("message") or "")[:100] or None,
        ]
        for step in current.get("steps") or []
    ]
    text = (
        "\n".join(lines)
        + "\n"
        + table.render(["step", "state", "started", "took", "message"], rows)
    )
    return text + f"{current.get('message') or ''}\n"


async def _status(client: AsyncClient, args: argparse.Namespace) -> int:
    plan = await client.get(RESOURCE, args.plan, namespace=args.namespace)  # type: ignore[type-var]
    status = getattr(plan, "status", None) or {}
    if args.output == "json":
        json.dump(status, sys.stdout, indent=2)
        print()
        return 0
    print(render(dict(status)), end="")
    return 0


def register(commands: Commands, common: list[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("failover", help="FailoverPlans: start, approve, watch a run")
    leaves = group.add_subparsers(required=True, metavar="COMMAND")

    def leaf(name: str, help: str) -> argparse.ArgumentParser:
        parser = leaves.add_parser(name, help=help, parents=common)
        parser.add_argument("plan", help="FailoverPlan name")
        parser.add_argument("-n", "--namespace", default="meridian-system")
        return parser

    start = leaf("start", "request a run (spec.run)")
    start.add_argument("--mode", choices=["Planned", "Emergency", "Practice"], default="Planned")
    start.add_argument("--direction", choices=["ToTarget", "ToSource"], default="ToTarget")
    start.add_argument("--id", default="", help="run id (default: <mode>-<UTC time>)")
    start.add_argument("--reason", default="", help="why (recorded in the journal)")
    start.set_defaults(handler=run.kube_command(_start))

    approve = leaf("approve", "approve one run (required for Emergency)")
    approve.add_argument("--run-id", required=True)
    approve.add_argument("--by", required=True, help="who approves")
    approve.add_argument("--reason", required=True, help="why")
    approve.set_defaults(handler=run.kube_command(_approve))

    status = leaf("status", "readiness and the run's journal with step durations")
    status.add_argument("-o", "--output", choices=["table", "json"], default="table")
    status.set_defaults(handler=run.kube_command(_status))
