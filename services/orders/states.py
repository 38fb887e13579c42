"""The order state machine, in one table: pending -> confirmed -> fulfilled, or canceled."""

from __future__ import annotations

from collections.abc import Mapping

from meridian.core.runtime import problems
from meridian.services.kit import contracts

ALLOWED: Mapping[contracts.OrderState, frozenset[contracts.OrderState]] = {
    "pending": frozenset({"confirmed", "canceled"}),
    "confirmed": frozenset({"fulfilled", "canceled"}),
    "fulfilled": frozenset(),
    "canceled": frozenset(),
}


class IllegalTransition(problems.Conflict):
    type_ = "https://meridian.io/problems/illegal-transition"
    title = "Illegal state transition"


def allowed(current: contracts.OrderState, target: contracts.OrderState) -> bool:
    return target in ALLOWED[current]


def check(current: contracts.OrderState, target: contracts.OrderState) -> None:
    if not allowed(current, target):
        raise IllegalTransition(
            f"An order that is {current} cannot become {target}",
            state=current,
            allowed=sorted(ALLOWED[current]),
        )
