"""Circuit breaker transitions and full-jitter retry bounds, with a fake clock and fake sleeps."""

from __future__ import annotations

import pytest

from meridian.core.runtime import resilience
from meridian.core.runtime.resilience import State


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Boom(Exception):
    pass


async def fail() -> None:
    raise Boom


async def ok() -> str:
    return "ok"


def breaker(clock: Clock, changes: list[State] | None = None) -> resilience.CircuitBreaker:
    return resilience.CircuitBreaker(
        "carrier",
        failure_threshold=3,
        open_for=5.0,
        clock=clock,
        on_change=None if changes is None else (lambda _name, state: changes.append(state)),
    )


async def test_breaker_opens_after_threshold_consecutive_failures() -> None:
    cb = breaker(Clock())
    for _ in range(2):
        with pytest.raises(Boom):
            await cb.call(fail)
    assert cb.state is State.CLOSED
    with pytest.raises(Boom):
        await cb.call(fail)
    assert cb.state is State.OPEN
    with pytest.raises(resilience.CircuitOpen):
        await cb.call(ok)


async def test_a_success_resets_the_failure_count() -> None:
    cb = breaker(Clock())
    for _ in range(2):
        with pytest.raises(Boom):
            await cb.call(fail)
    assert await cb.call(ok) == "ok"
    for _ in range(2):
        with pytest.raises(Boom):
            await cb.call(fail)
    assert cb.state is State.CLOSED


async def test_half_open_probe_success_closes_the_circuit() -> None:
    clock, changes = Clock(), list[State]()
    cb = breaker(clock, changes)
    for _ in range(3):
        with pytest.raises(Boom):
            await cb.call(fail)
    clock.now += 4.9
    assert cb.state is State.OPEN
    clock.now += 0.1
    assert cb.state is State.HALF_OPEN
    assert await cb.call(ok) == "ok"
    assert cb.state is State.CLOSED
    assert changes == [State.OPEN, State.HALF_OPEN, State.CLOSED]


async def test_half_open_probe_failure_reopens_for_a_full_period() -> None:
    clock = Clock()
    cb = breaker(clock)
    for _ in range(3):
        with pytest.raises(Boom):
            await cb.call(fail)
    clock.now += 5.0
    with pytest.raises(Boom):
        await cb.call(fail)
    assert cb.state is State.OPEN
    clock.now += 4.0
    with pytest.raises(resilience.CircuitOpen) as refused:
        await cb.call(ok)
    assert refused.value.retry_after == pytest.approx(1.0)


async def test_exceptions_not_declared_as_failures_do_not_open_the_circuit() -> None:
    cb = resilience.CircuitBreaker("x", failure_threshold=1, failures=(Boom,), clock=Clock())

    async def not_found() -> None:
        raise KeyError("404")

    with pytest.raises(KeyError):
        await cb.call(not_found)
    assert cb.state is State.CLOSED


@pytest.mark.parametrize("attempt", range(8))
def test_backoff_stays_within_full_jitter_bounds(attempt: int) -> None:
    ceiling = min(2.0, 0.1 * 2**attempt)
    assert resilience.backoff(attempt, base=0.1, cap=2.0, rng=lambda: 0.0) == 0.0
    upper = resilience.backoff(attempt, base=0.1, cap=2.0, rng=lambda: 0.999999)
    assert upper == pytest.approx(ceiling, rel=1e-5)
    assert upper < ceiling


async def test_retry_sleeps_jittered_delays_then_succeeds() -> None:
    sleeps: list[float] = []
    calls = 0

    async def flaky() -> str:
        nonlocal calls
        calls += 1
        if calls < 4:
            raise Boom
        return "done"

    async def sleep(delay: float) -> None:
        sleeps.append(delay)

    result = await resilience.retry(
        flaky, attempts=5, base=0.1, cap=0.3, retry_on=(Boom,), sleep=sleep, rng=lambda: 0.5
    )
    assert result == "done"
    assert sleeps == pytest.approx([0.05, 0.1, 0.15])


async def test_retry_gives_up_after_attempts_with_the_last_error() -> None:
    calls = 0

    async def always() -> None:
        nonlocal calls
        calls += 1
        raise Boom

    async def sleep(_delay: float) -> None:
        return None

    with pytest.raises(Boom):
        await resilience.retry(always, attempts=3, base=0.1, cap=1, retry_on=(Boom,), sleep=sleep)
    assert calls == 3


async def test_retry_never_retries_undeclared_exceptions() -> None:
    calls = 0

    async def wrong_input() -> None:
        nonlocal calls
        calls += 1
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        await resilience.retry(wrong_input, attempts=5, base=0.1, cap=1, retry_on=(Boom,))
    assert calls == 1
