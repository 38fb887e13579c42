"""Ready from the node's Lease: the rule (pure) and the operator's memory of renewals.

The rule, as the controller-manager applies it to kubelets' Leases: a node is Ready while its
Lease was renewed within the grace (50 s by default: five 10-second renewals), Unknown
(`LeaseExpired`) once the grace has passed without one, and Ready again at the first renewal
after that. One late renewal cannot flip it: the grace spans several renewal intervals and
nothing but an expired grace takes Ready away, so a node renewing every 10 s that is once late
by even 30 s stays Ready throughout.

The age is measured on the operator's own clock from when it *saw* the renewal change (as the
node lifecycle controller does), so a node whose clock runs ahead or behind cannot look alive or
dead; only the first sight after the operator starts trusts the Lease's renewTime (clamped to
now), so a node that died while the operator was down is not reported Ready for a grace period.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, NamedTuple

from meridian.operators.edge import reasons
from meridian.operators.machinery import reconciler


class Seen(NamedTuple):
    renew_time: str
    """The Lease's spec.renewTime as written (the agent's clock)."""
    at: datetime.datetime
    """When this operator saw it (its own clock); the age is measured from here."""


class Verdict(NamedTuple):
    ready: reconciler.ConditionUpdate
    last_seen: datetime.datetime | None


def assess(seen: Seen | None, now: datetime.datetime, grace_s: float) -> Verdict:
    """Ready from the last renewal seen (pure)."""
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
    message = f"Lease renewed within the grace ({grace_s:g} s)"
    condition = reconciler.ConditionUpdate(reconciler.READY, "True", reasons.HEARTBEATING, message)
    return Verdict(condition, seen.at)


def parse_time(value: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))


class Book:
    """The last renewal seen per Lease, fed by the operator's Lease watch (one per operator)."""

    def __init__(self, clock: Callable[[], datetime.datetime]) -> None:
        self._clock = clock
        self._seen: dict[str, Seen] = {}

    def observe(self, name: str, spec: dict[str, Any] | None) -> None:
        renew_time = (spec or {}).get("renewTime")
        if not renew_time:
            self._seen.pop(name, None)
            return
        previous = self._seen.get(name)
        if previous is not None and previous.renew_time == renew_time:
            return
        now = self._clock()
        # First sight: trust the Lease, but never a time in the future.
        at = min(parse_time(renew_time), now) if previous is None else now
        self._seen[name] = Seen(renew_time, at)

    def forget(self, name: str) -> None:
        self._seen.pop(name, None)

    def get(self, name: str) -> Seen | None:
        return self._seen.get(name)
