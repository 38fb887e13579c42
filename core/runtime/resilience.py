"""Calling things that fail: a circuit breaker and full-jitter retries, both explicit about what.

`retry` retries only the exception types the caller declares (a 4xx-style error is never retried
by accident) and sleeps `uniform(0, min(cap, base * 2**attempt))` between attempts — AWS's "full
jitter", which spreads a thundering herd best. `CircuitBreaker` stops calling a dependency that
keeps failing and lets one probe through after `open_for` seconds; its state is readable (and
reported through `on_change`, which `app` wires to a gauge) so dashboards can show it.
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class State(enum.IntEnum):
    """Gauge values: 0 closed (calls pass), 1 half-open (one probe), 2 open (calls refused)."""

    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


class CircuitOpen(Exception):
    def __init__(self, name: str, retry_after: float) -> None:
        super().__init__(f"Circuit {name!r} is open; retry in {retry_after:.1f}s")
        self.name = name
        self.retry_after = retry_after


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive failures; a half-open probe decides the rest."""

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        open_for: float = 5.0,
        failures: tuple[type[BaseException], ...] = (Exception,),
        clock: Callable[[], float] = time.monotonic,
        on_change: Callable[[str, State], None] | None = None,
    ) -> None:
        self.name = name
        self.failure_threshold = failure_threshold
        self.open_for = open_for
        self.failures = failures
        self._clock = clock
        self._on_change = on_change
        self._state = State.CLOSED
        self._consecutive_failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> State:
        if self._state is State.OPEN and self._clock() - self._opened_at >= self.open_for:
            self._set(State.HALF_OPEN)
        return self._state

    def _set(self, state: State) -> None:
        if state is not self._state:
            self._state = state
            if self._on_change is not None:
                self._on_change(self.name, state)

    def _admit(self) -> None:
        state = self.state
        if state is State.OPEN:
            raise CircuitOpen(self.name, self.open_for - (self._clock() - self._opened_at))
        if state is State.HALF_OPEN:
            if self._probing:
                raise CircuitOpen(self.name, self.open_for)
            self._probing = True

    def _record(self, *, success: bool) -> None:
        self._probing = False
        if success:
            self._consecutive_failures = 0
            self._set(State.CLOSED)
            return
        self._consecutive_failures += 1
        if self._state is State.HALF_OPEN or self._consecutive_failures >= self.failure_threshold:
            self._opened_at = self._clock()
            self._set(State.OPEN)

    async def call(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Run `fn` unless the circuit is open; exceptions not in `failures` count as success."""
        self._admit()
        try:
            result = await fn()
        except self.failures:
            self._record(success=False)
            raise
        except asyncio.CancelledError:
            self._probing = False  # no verdict: let the next call probe
            raise
        except BaseException:
            self._record(success=True)
            raise
        self._record(success=True)
        return result


def backoff(attempt: int, *, base: float, cap: float, rng: Callable[[], float]) -> float:
    """Full jitter: a delay uniformly in [0, min(cap, base * 2**attempt)); attempt counts from 0."""
    return rng() * min(cap, base * 2.0**attempt)


async def retry(
    fn: Callable[[], Awaitable[T]],
    *,
    attempts: int,
    base: float,
    cap: float,
    retry_on: tuple[type[BaseException], ...],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    rng: Callable[[], float] = random.random,
) -> T:
    """Call `fn` up to `attempts` times; the last failure (or any undeclared one) propagates."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(attempts):
        try:
            return await fn()
        except retry_on:
            if attempt == attempts - 1:
                raise
        await sleep(backoff(attempt, base=base, cap=cap, rng=rng))
    raise AssertionError("unreachable")
