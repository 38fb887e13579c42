"""The upgrade wave planner (pure): which nodes of one site may start upgrading now.

Each node's spec.agentVersion is the version it should run (`kubectl meridian edge upgrade`
sets it on every node of a site); everything the wave needs is in the API, on the nodes:
status.upgrade.targetVersion (written by the operator when a node's turn comes), what the agent
reports (agentVersion, upgrade.phase) and the failure annotation. The planner is a function of
that alone, so the operator is level-triggered: killed mid-wave, it re-plans from the same
objects and repeats nothing (a node already given its target stays in flight, not restarted).

Per site, with N = max unavailable and B = failure budget:
- done: the agent reports the desired version (and is Ready again, if this wave upgraded it);
- failed: its upgrade to the desired version failed (annotated, or the agent says Failed), or
  it has been in flight longer than the upgrade timeout T (timed out: the agent never reported
  the version Ready, a hung command or a node that did not come back);
- in flight: given the desired version as target, not done, not failed;
- unavailable: in flight, or not Ready (an offline node counts against its own site only);
- halted: more than B failed; nothing starts until `edge resume` clears the failures;
- otherwise up to N - unavailable pending nodes start, in name order: Ready, not held (drain,
  outside their maintenance window) and with a reported version (an agent that has not said
  what it runs is not upgraded blind). Other sites are planned independently, so an
  offline node or a halted wave never blocks them.
- with drain-for-upgrade on, a starting node is drained and marked as drained by the operator;
  once done, exactly the nodes so marked are undrained (a failed node stays drained until it is
  resumed and done; a node a human drained is held, never started, never undrained by us).
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import NamedTuple


class NodeView(NamedTuple):
    name: str
    site: str
    desired: str
    reported: str | None
    ready: bool
    target: str | None
    phase: str | None
    failed_version: str | None
    held: bool
    drained_by_operator: bool = False
    started: datetime.datetime | None = None
    """When the operator gave it the desired version as target (status.upgrade.startedTime)."""


class SitePlan(NamedTuple):
    site: str
    start: tuple[str, ...]
    """Nodes to give the desired version as their target now."""
    newly_failed: tuple[str, ...]
    """Nodes the agent reported Failed, or that timed out, that are not annotated yet."""
    release: tuple[str, ...]
    """Nodes the operator drained for their upgrade that are done: undrain them (only those)."""
    halted: bool
    done: int
    in_flight: int
    failed: int
    unavailable: int
    pending: int
    timed_out: tuple[str, ...] = ()
    """Of `newly_failed`, those that failed by the upgrade timeout."""


def is_done(node: NodeView) -> bool:
    """Runs the desired version; one we upgraded must also be Ready again (healthy)."""
    return node.reported == node.desired and (node.ready or node.target != node.desired)


def is_failed(node: NodeView) -> bool:
    return node.failed_version == node.desired or (
        node.target == node.desired and node.phase == "Failed"
    )


def timed_out(node: NodeView, now: datetime.datetime | None, timeout_s: float | None) -> bool:
    """In flight (given the desired version, not done, not failed) for longer than the timeout."""
    return (
        now is not None
        and timeout_s is not None
        and node.started is not None
        and node.target == node.desired
        and not is_done(node)
        and (now - node.started).total_seconds() > timeout_s
    )


def plan_site(
    site: str,
    nodes: Iterable[NodeView],
    *,
    max_unavailable: int,
    failure_budget: int,
    now: datetime.datetime | None = None,
    timeout_s: float | None = None,
) -> SitePlan:
    """`now` and `timeout_s` (both or neither): fail nodes in flight for longer than that."""
    mine = sorted((node for node in nodes if node.site == site), key=lambda node: node.name)
    done = [node for node in mine if is_done(node)]
    late = {node.name for node in mine if not is_failed(node) and timed_out(node, now, timeout_s)}
    failed = [node for node in mine if not is_done(node) and (is_failed(node) or node.name in late)]
    in_flight = [
        node
        for node in mine
        if node.target == node.desired
        and not is_done(node)
        and not is_failed(node)
        and node.name not in late
    ]
    flying = {node.name for node in in_flight}
    unavailable = flying | {node.name for node in mine if not node.ready}
    pending = [
        node
        for node in mine
        if not is_done(node) and not is_failed(node) and node.name not in flying | late
    ]
    halted = len(failed) > failure_budget
    slots = max(0, max_unavailable - len(unavailable))
    startable = [
        node.name for node in pending if node.ready and not node.held and node.reported is not None
    ]
    start = () if halted else tuple(startable[:slots])
    newly_failed = tuple(node.name for node in failed if node.failed_version != node.desired)
    timed_out_now = tuple(name for name in newly_failed if name in late)
    release = tuple(node.name for node in done if node.drained_by_operator)
    return SitePlan(
        site=site,
        start=start,
        newly_failed=newly_failed,
        release=release,
        halted=halted,
        done=len(done),
        in_flight=len(in_flight),
        failed=len(failed),
        unavailable=len(unavailable),
        pending=len(pending),
        timed_out=timed_out_now,
    )


def converged(node: NodeView) -> bool:
    """Nothing for the wave to do on this node (the site needs no planning for its sake); a node
    whose agent has not said what it runs yet waits for that first."""
    if node.reported is None:
        return True
    return (
        node.reported == node.desired
        and node.target in (None, node.desired)
        and not node.drained_by_operator  # the step that undrains it is still to come
    )
