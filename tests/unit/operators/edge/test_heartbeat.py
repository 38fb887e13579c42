"""Ready from the Lease: the rule and the operator's memory of renewals."""

from __future__ import annotations

import datetime

from meridian.operators.edge import heartbeat

T0 = datetime.datetime(2026, 11, 27, 10, 0, tzinfo=datetime.UTC)
GRACE = 50.0


def at(seconds: float) -> datetime.datetime:
    return T0 + datetime.timedelta(seconds=seconds)


def stamp(seconds: float) -> str:
    return at(seconds).isoformat().replace("+00:00", "Z")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime.datetime:
        return self.now


def test_a_node_that_never_renewed_is_unknown_awaiting_its_first_heartbeat() -> None:
    verdict = heartbeat.assess(None, T0, GRACE)
    assert (verdict.ready.status, verdict.ready.reason) == ("Unknown", "AwaitingFirstHeartbeat")
    assert verdict.last_seen is None


def test_a_renewal_within_the_grace_is_ready() -> None:
    verdict = heartbeat.assess(heartbeat.Seen("x", T0), at(GRACE), GRACE)
    assert (verdict.ready.status, verdict.ready.reason) == ("True", "LeaseRenewed")


def test_past_the_grace_the_lease_has_expired() -> None:
    verdict = heartbeat.assess(heartbeat.Seen("x", T0), at(GRACE + 1), GRACE)
    assert (verdict.ready.status, verdict.ready.reason) == ("Unknown", "LeaseExpired")
    assert "no Lease renewal for 51 s (grace 50 s)" in verdict.ready.message
    assert verdict.last_seen == T0


def test_one_late_renewal_never_flips_ready() -> None:
    """Renewals every 10 s, one of them 30 s late: Ready stays True at every check in between."""
    clock = Clock()
    book = heartbeat.Book(clock)
    renewals = [0, 10, 20, 60, 70, 80]  # the one after 20 comes at 60 instead of 30
    verdicts = []
    for second in range(0, 90):
        clock.now = at(second)
        if second in renewals:
            book.observe("n", {"renewTime": stamp(second)})
        verdicts.append(heartbeat.assess(book.get("n"), clock.now, GRACE).ready.status)
    assert set(verdicts) == {"True"}


def test_ready_returns_at_the_first_renewal_after_expiry() -> None:
    clock = Clock()
    book = heartbeat.Book(clock)
    book.observe("n", {"renewTime": stamp(0)})
    clock.now = at(120)
    assert heartbeat.assess(book.get("n"), clock.now, GRACE).ready.status == "Unknown"
    book.observe("n", {"renewTime": stamp(120)})
    assert heartbeat.assess(book.get("n"), clock.now, GRACE).ready.status == "True"


def test_age_runs_on_the_operators_clock_not_the_nodes() -> None:
    """A node whose clock is an hour behind still renews: the change is what counts."""
    clock = Clock()
    book = heartbeat.Book(clock)
    book.observe("n", {"renewTime": stamp(-3600)})  # first sight trusts it: expired
    assert heartbeat.assess(book.get("n"), clock.now, GRACE).ready.status == "Unknown"
    clock.now = at(5)
    book.observe("n", {"renewTime": stamp(-3590)})  # renewed (its clock is behind)
    assert heartbeat.assess(book.get("n"), clock.now, GRACE).ready.status == "True"


def test_a_renewal_time_in_the_future_is_clamped_to_now() -> None:
    clock = Clock()
    book = heartbeat.Book(clock)
    book.observe("n", {"renewTime": stamp(3600)})
    seen = book.get("n")
    assert seen is not None
    assert seen.at == T0
    assert heartbeat.assess(seen, at(GRACE + 1), GRACE).ready.status == "Unknown"


def test_the_same_renewal_seen_again_does_not_refresh_the_node() -> None:
    clock = Clock()
    book = heartbeat.Book(clock)
    book.observe("n", {"renewTime": stamp(0)})
    clock.now = at(40)
    book.observe("n", {"renewTime": stamp(0)})  # a resync of the watch, not a renewal
    assert heartbeat.assess(book.get("n"), at(GRACE + 1), GRACE).ready.status == "Unknown"
