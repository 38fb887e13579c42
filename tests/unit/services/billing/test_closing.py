"""A period is closed for invoicing only once it has been over for the configured wait."""

from __future__ import annotations

import datetime

from meridian.services.billing import closing

UTC = datetime.UTC


def test_a_period_waits_its_late_batches_before_it_is_closed() -> None:
    just_after = datetime.datetime(2026, 11, 1, 0, 30, tzinfo=UTC)
    # 30 minutes into November with an hour's wait: October is still open, September closed.
    assert closing.closed_before(just_after, 3600) == datetime.date(2026, 10, 1)
    an_hour_after = datetime.datetime(2026, 11, 1, 1, 0, tzinfo=UTC)
    assert closing.closed_before(an_hour_after, 3600) == datetime.date(2026, 11, 1)


def test_no_wait_closes_a_period_at_its_end_and_december_closes_into_january() -> None:
    new_year = datetime.datetime(2027, 1, 1, 0, 0, tzinfo=UTC)
    assert closing.closed_before(new_year, 0) == datetime.date(2027, 1, 1)
    assert closing.closed_before(new_year, 1) == datetime.date(2026, 12, 1)
