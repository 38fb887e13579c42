"""The order state machine's table."""

from __future__ import annotations

import pytest

from meridian.services.orders import states


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("pending", "confirmed"),
        ("pending", "canceled"),
        ("confirmed", "fulfilled"),
        ("confirmed", "canceled"),
    ],
)
def test_legal_transitions(
    current: states.contracts.OrderState, target: states.contracts.OrderState
) -> None:
    states.check(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("pending", "fulfilled"),
        ("fulfilled", "canceled"),
        ("canceled", "confirmed"),
        ("canceled", "canceled"),
    ],
)
def test_illegal_transitions_are_409(
    current: states.contracts.OrderState, target: states.contracts.OrderState
) -> None:
    with pytest.raises(states.IllegalTransition) as raised:
        states.check(current, target)
    assert raised.value.status == 409
