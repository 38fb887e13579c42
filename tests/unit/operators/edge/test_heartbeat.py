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


def ready(book: heartbeat.Book, now: datetime.datetime, ready_before: bool = True) -> str:
    return heartbeat.assess(book.get("n"), now, GRACE, ready_before=ready_before).ready.status


def watching_from_start(clock: Clock) -> heartbeat.Book:
    """A book that saw the node's Lease pre-created empty, before its agent's first renewal."""
    book = heartbeat.Book(clock)
    book.observe("n", None)
    return book


def test_a_node_that_never_renewed_is_unknown_awaiting_its_first_heartbeat() -> None:
    verdict = heartbeat.assess(None, T0, GRACE, ready_before=False)
    assert (verdict.ready.status, verdict.ready.reason) == ("Unknown", "AwaitingFirstHeartbeat")
    assert verdict.last_seen is None


def test_a_renewal_within_the_grace_is_ready() -> None:
    verdict = heartbeat.assess(heartbeat.Seen("x", T0), at(GRACE), GRACE, ready_before=False)
    assert (verdict.ready.status, verdict.ready.reason) == ("True", "LeaseRenewed")


def test_past_the_grace_the_lease_has_expired() -> None:
    verdict = heartbeat.assess(heartbeat.Seen("x", T0), at(GRACE + 1), GRACE, ready_before=True)
    assert (verdict.ready.status, verdict.ready.reason) == ("Unknown", "LeaseExpired")
    assert "no Lease renewal for 51 s (grace 50 s)" in verdict.ready.message
    assert verdict.last_seen == T0


def test_the_first_renewal_of_a_lease_seen_empty_makes_the_node_ready_at_once() -> None:
    clock = Clock()
    book = watching_from_start(clock)
    assert ready(book, clock.now, ready_before=False) == "Unknown"
    book.observe("n", stamp(0))
    assert ready(book, clock.now, ready_before=False) == "True"


def test_one_late_renewal_never_flips_ready() -> None:
    """Renewals every 10 s, one of them 30 s late: Ready stays True at every check in between."""
    clock = Clock()
    book = watching_from_start(clock)
    renewals = [0, 10, 20, 60, 70, 80]  # the one after 20 comes at 60 instead of 30
    verdicts = []
    for second in range(0, 90):
        clock.now = at(second)
        if second in renewals:
            book.observe("n", stamp(second))
        verdicts.append(ready(book, clock.now))
    assert set(verdicts) == {"True"}


def test_ready_returns_at_the_first_renewal_after_expiry() -> None:
    clock = Clock()
    book = watching_from_start(clock)
    book.observe("n", stamp(0))
    clock.now = at(120)
    assert ready(book, clock.now) == "Unknown"
    book.observe("n", stamp(120))
    assert ready(book, clock.now, ready_before=False) == "True"


def test_age_runs_on_the_operators_clock_not_the_nodes() -> None:
    """A node whose clock is an hour behind (or ahead) still renews: the change is what counts."""
    clock = Clock()
    book = watching_from_start(clock)
    book.observe("n", stamp(-3600))
    clock.now = at(GRACE - 1)
    assert ready(book, clock.now) == "True"
    book.observe("n", stamp(-3600 + GRACE - 1))
    clock.now = at(2 * GRACE - 2)
    assert ready(book, clock.now) == "True"
    book.observe("n", stamp(3600))  # a clock an hour ahead looks no more alive
    assert ready(book, at(3 * GRACE)) == "Unknown"


def test_after_a_restart_no_node_is_declared_dead_before_a_full_grace() -> None:
    """The first sight (the operator just started watching) counts from now, whatever the
    Lease says: a node Ready before the restart is given a full grace to renew."""
    clock = Clock()
    book = heartbeat.Book(clock)
    book.observe("n", stamp(-3600))  # renewed long ago, or by a clock far behind
    assert ready(book, at(GRACE)) == "True"
    assert ready(book, at(GRACE + 1)) == "Unknown"


def test_after_a_restart_a_node_not_ready_before_stays_so_until_it_renews() -> None:
    """First sight is no evidence of life: a dead node does not flap to Ready on a restart."""
    clock = Clock()
    book = heartbeat.Book(clock)
    book.observe("n", stamp(-600))
    verdict = heartbeat.assess(book.get("n"), at(1), GRACE, ready_before=False)
    assert (verdict.ready.status, verdict.ready.reason) == ("Unknown", "LeaseExpired")
    clock.now = at(5)
    book.observe("n", stamp(5))
    assert ready(book, at(5), ready_before=False) == "True"


def test_the_same_renewal_seen_again_does_not_refresh_the_node() -> None:
    clock = Clock()
    book = watching_from_start(clock)
    book.observe("n", stamp(0))
    clock.now = at(40)
    book.observe("n", stamp(0))  # a relist of the watch, not a renewal
    assert ready(book, at(GRACE + 1)) == "Unknown"


def test_a_relist_forgets_the_leases_deleted_while_the_watch_was_down() -> None:
    book = heartbeat.Book(Clock())
    book.observe("n", stamp(0))
    book.observe("m", stamp(0))
    book.retain({"m"})
    assert not book.exists("n")
    assert book.get("n") is None
    assert book.exists("m")
