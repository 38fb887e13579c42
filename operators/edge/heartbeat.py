"""Ready from the node's Lease: the rule (pure) and the operator's memory of renewals.

The rule, as the controller-manager applies it to kubelets' Leases: a node is Ready while its
Lease was renewed within the grace (50 s by default: five 10-second renewals), Unknown
(`LeaseExpired`) once the grace has passed without one, and Ready again at the first renewal
after that. One late renewal cannot flip it: the grace spans several renewal intervals and
nothing but an expired grace takes Ready away, so a node renewing every 10 s that is once late
by even 30 s stays Ready throughout.

The age is measured on the operator's own clock from when it *saw* the renewal change (as the
node lifecycle controller does), so a node whose clock runs ahead or behind cannot look alive or
dead. The first sight of a Lease (when the operator starts watching, or takes over from another
replica) counts as seen *now*, so no node is declared dead before a full grace has passed since
the operator started watching; but that first sight is no evidence of life either, so a node
whose status already says it is not Ready stays so until its Lease actually changes (status is
the memory that survives a restart; a dead node does not flap to Ready and back on every restart).
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from meridian.operators.edge import reasons
from meridian.operators.machinery import reconciler


class Seen(NamedTuple):
    renew_time: str
    """The Lease's spec.renewTime as written (the agent's clock)."""
    at: datetime.datetime
    """When this operator saw it (its own clock); the age is measured from here."""
    changed: bool = True
    """Seen changing since the operator started watching (False: only its first sight)."""


class Verdict(NamedTuple):
    ready: reconciler.ConditionUpdate
    last_seen: datetime.datetime | None


def was_ready(status: Mapping[str, Any]) -> bool:
    """Whether the status already says Ready=True (what the operator wrote before it restarted)."""
    return any(
        c.get("type") == reconciler.READY and c.get("status") == "True"
        for c in status.get("conditions") or []
    )


def assess(
    seen: Seen | None, now: datetime.datetime, grace_s: float, *, ready_before: bool
) -> Verdict:
    """Ready from the last renewal seen (pure); `ready_before`: the status says Ready=True now."""
    if seen is None:
        message = "the agent has not renewed its Lease yet (not installed, or never started)"
        return Verdict(
            reconciler.ConditionUpdate(
                reconciler.READY, "Unknown", reasons.NEVER_HEARTBEATED, message
            ),
            None,
        )
    age = (now - seen.at).total_seconds()
    if age > grace_s:
        message = (
            f"no Lease renewal for {age:.0f} s (grace {grace_s:g} s); "
            "the agent is stopped, the node is down or cut off"
        )
        condition = reconciler.ConditionUpdate(
            reconciler.READY, "Unknown", reasons.HEARTBEAT_EXPIRED, message
        )
        return Verdict(condition, seen.at)
    if not seen.changed and not ready_before:
        message = (
            "no Lease renewal seen since the operator started watching "
            "(the node was not Ready before)"
        )
        condition = reconciler.ConditionUpdate(
            reconciler.READY, "Unknown", reasons.HEARTBEAT_EXPIRED, message
        )
        return Verdict(condition, seen.at)
    message = f"Lease renewed within the grace ({grace_s:g} s)"
    condition = reconciler.ConditionUpdate(reconciler.READY, "True", reasons.HEARTBEATING, message)
    return Verdict(condition, seen.at)


def parse_time(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


class Book:
    """The last renewal seen per Lease and which Leases exist, fed by the operator's Lease watch
    (`leases`, one per operator process)."""

    def __init__(self, clock: Callable[[], datetime.datetime]) -> None:
        self._clock = clock
        self._seen: dict[str, Seen] = {}
        self._exists: set[str] = set()
        self.synced = asyncio.Event()
        """Set once the watch has listed every Lease (until then `exists` knows nothing)."""

    def observe(self, name: str, renew_time: str | None) -> None:
        known = name in self._exists
        self._exists.add(name)
        if not renew_time:
            self._seen.pop(name, None)
            return
        previous = self._seen.get(name)
        if previous is not None and previous.renew_time == renew_time:
            return
        # Any sight counts from now; the first sight of a Lease is no evidence of life (a Lease
        # seen empty and then renewed is: that is an agent's first heartbeat).
        self._seen[name] = Seen(renew_time, self._clock(), changed=known)

    def forget(self, name: str) -> None:
        self._seen.pop(name, None)
        self._exists.discard(name)

    def retain(self, names: set[str]) -> None:
        """After a fresh listing: forget the Leases deleted while the watch was down."""
        for name in self._exists - names:
            self.forget(name)

    def reset(self) -> None:
        """Forget everything: the watch starts over (its first sights count from now again)."""
        self._seen.clear()
        self._exists.clear()
        self.synced.clear()

    def get(self, name: str) -> Seen | None:
        return self._seen.get(name)

    def exists(self, name: str) -> bool:
        return name in self._exists
