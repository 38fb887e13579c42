"""Billing periods are UTC calendar months."""

from __future__ import annotations

import datetime

import pytest

from meridian.services.billing import periods


def test_a_moment_falls_in_its_utc_month() -> None:
    late = datetime.datetime(
        2026, 11, 30, 23, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=-5))
    )
    assert periods.start_of(late) == datetime.date(2026, 12, 1)


def test_december_ends_in_january() -> None:
    assert periods.end_of(datetime.date(2026, 12, 1)) == datetime.date(2027, 1, 1)
    assert periods.end_of(datetime.date(2026, 1, 1)) == datetime.date(2026, 2, 1)


@pytest.mark.parametrize(
    "name", ["2026-13", "2026-1", "26-01", "2026-00", "x", "0000-01", "9999-12", "1969-12"]
)
def test_a_malformed_period_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="YYYY-MM"):
        periods.parse(name)


def test_names_round_trip() -> None:
    assert periods.name(periods.parse("2026-02")) == "2026-02"
