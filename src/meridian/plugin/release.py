"""`kubectl meridian release status|promote|pause|resume|abort|retry|rollback NAME`.

The on-call's actions are counters in the release's spec (`spec.actions`): each command raises
one by one, guarded by the resourceVersion it read, so two people pressing at once get a
conflict rather than a double promote, and re-applying the YAML repeats nothing. `status`
prints the rollout as a table of its steps with their analysis results, then the history; the
last abort shows as the rollout's only while it is, else as an earlier rollout's.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from meridian.plugin import run, table

if TYPE_CHECKING:
    from lightkube import AsyncClient
    from lightkube.generic_resource import GenericNamespacedResource

    from meridian.plugin import Commands

ACTIONS = ("promote", "pause", "resume", "abort", "retry", "rollback")


def _describe(step: Mapping[str, Any]) -> str:
    if "setWeight" in step:
        return f"setWeight {step['setWeight']}"
    if "pause" in step:
        duration = (step.get("pause") or {}).get("duration")
        return f"pause {duration}" if duration else "pause (until resumed)"
    check = step.get("analysis") or {}
    return f"analysis x{check.get('count', 3)} every {check.get('interval', '30s')}"


def _analysis_of(index: int, status: Mapping[str, Any]) -> str | None:
    runs = [
        *status.get("analysisRuns", []),
        *([status["analysis"]] if status.get("analysis") else []),
    ]
    found = [
        run
        for run in runs
        if run.get("step") == index and run.get("revision") == status.get("canaryRevision")
    ]
    if not found:
        return None
    latest = found[-1]
    phases = [m.get("phase", "") for m in latest.get("measurements", [])]
    counts = ", ".join(f"{p.lower()} {phases.count(p)}" for p in dict.fromkeys(phases))
    return f"{latest.get('phase')} ({counts or 'no measurement yet'})"


def _abort_lines(body: Mapping[str, Any]) -> list[str]:
    """The last abort: as the rollout's while it is (`machine.abort_is_current`), else labelled
    as an earlier rollout's, so a later revision that rolled out fine is not shown aborted."""
    abort = (body.get("status") or {}).get("abort")
    if not abort:
        return []
    from meridian.core.api.v1alpha1 import servicerelease
    from meridian.core.api.v1alpha1.servicerelease_status import ServiceReleaseStatus
    from meridian.operators.release import machine

    shown = (
        f"Abort:    {abort.get('reason')} at {abort.get('at')}: stable Ready at "
        f"{abort.get('stableReadyAt')}, traffic back at {abort.get('weightRestoredAt')}"
    )
    try:
        spec = servicerelease.ServiceReleaseSpec.model_validate(body["spec"])
        status = ServiceReleaseStatus.model_validate(body["status"])
    except ValueError:  # a body the operator could not read either: show it as it stands
        return [shown]
    if machine.abort_is_current(spec, status):
        return [shown]
    return [
        f"Earlier:  an earlier rollout's abort, not this one's: {abort.get('reason')} of "
        f"{abort.get('revision')} at {abort.get('at')}"
    ]


def render_status(body: Mapping[str, Any]) -> str:
    """The release's rollout: a summary, its steps with their analysis, its history."""
    spec, status = body.get("spec") or {}, body.get("status") or {}
    lines = [
        f"Release:  {body['metadata']['namespace']}/{body['metadata']['name']} ({spec.get('service')})",
        f"Phase:    {status.get('phase', 'Pending')}: {status.get('message', '')}",
        f"Stable:   {status.get('stableRevision')}   Canary: {status.get('canaryRevision')}   "
        f"Weight: {status.get('canaryWeight', 0)}%",
    ]
    lines += _abort_lines(body)
    text = "\n".join(lines) + "\n\n"
    steps = (spec.get("strategy") or {}).get("canarySteps") or []
    current = status.get("currentStep")
    rows = []
    for index, step in enumerate(steps):
        if status.get("canaryRevision") is None or current is None:
            state = "-"
        else:
            state = "done" if index < current else "current" if index == current else "pending"
        rows.append([index, _describe(step), state, _analysis_of(index, status)])
    if rows:
        text += table.render(["step", "action", "state", "analysis"], rows) + "\n"
    history = [
        [h.get("revision"), h.get("hash"), (h.get("template") or {}).get("image"), h.get("outcome")]
        for h in status.get("history", [])
    ]
    return text + table.render(["revision", "hash", "image", "outcome"], history)


def _resource() -> type[GenericNamespacedResource]:
    from lightkube.generic_resource import create_namespaced_resource

    from meridian.core.api.v1alpha1 import GROUP, VERSION, servicerelease

    kind = servicerelease.KIND
    return create_namespaced_resource(GROUP, VERSION, kind.kind, kind.plural)


async def _status(client: AsyncClient, args: argparse.Namespace) -> int:
    found = await client.get(_resource(), args.name, namespace=args.namespace)
    sys.stdout.write(render_status(found))
    return 0


def action_patch(body: Mapping[str, Any], action: str, **fields: Any) -> dict[str, Any]:
    """The merge patch raising `action`'s counter by one, guarded by the version it was read at."""
    actions = (body.get("spec") or {}).get("actions") or {}
    count = int((actions.get(action) or {}).get("count", 0)) + 1
    return {
        "metadata": {"resourceVersion": body["metadata"]["resourceVersion"]},
        "spec": {"actions": {action: {"count": count, **fields}}},
    }


async def _act(client: AsyncClient, args: argparse.Namespace) -> int:
    from lightkube.types import PatchType

    resource = _resource()
    body = await client.get(resource, args.name, namespace=args.namespace)
    fields: dict[str, Any] = {}
    if args.action == "promote":
        fields["full"] = bool(args.full)
    if args.action == "rollback":
        fields["revision"] = args.to_revision
    patch = action_patch(body, args.action, **fields)
    await client.patch(
        resource, args.name, patch, namespace=args.namespace, patch_type=PatchType.MERGE
    )
    count = patch["spec"]["actions"][args.action]["count"]
    print(f"servicerelease/{args.name} {args.action} requested (count {count})")
    return 0


def register(commands: Commands, common: list[argparse.ArgumentParser]) -> None:
    group = commands.add_parser("release", help="ServiceRelease rollouts: status and actions")
    leaves = group.add_subparsers(required=True, metavar="COMMAND")

    def leaf(name: str, help: str) -> argparse.ArgumentParser:
        parser = leaves.add_parser(name, help=help, parents=common)
        parser.add_argument("name", help="the ServiceRelease")
        parser.add_argument("-n", "--namespace", default="default", help="its namespace")
        return parser

    leaf("status", "the rollout's steps, analysis results and history").set_defaults(
        handler=run.kube_command(_status)
    )
    helps = {
        "promote": "advance the canary one step (--full: skip every remaining step)",
        "pause": "hold the rollout where it is",
        "resume": "continue after a pause or an inconclusive analysis",
        "abort": "send all traffic back to the stable revision (wins over a promote)",
        "retry": "roll an aborted revision out again from step 0",
        "rollback": "go back to a revision of the history (--to-revision N)",
    }
    for action in ACTIONS:
        parser = leaf(action, helps[action])
        if action == "promote":
            parser.add_argument("--full", action="store_true", help="skip every remaining step")
        if action == "rollback":
            parser.add_argument("--to-revision", type=int, required=True, help="revision number")
        parser.set_defaults(handler=run.kube_command(_act), action=action)
