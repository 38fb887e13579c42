"""Billing periods: calendar months in UTC, named `YYYY-MM`, so a period is one fact everywhere."""

from __future__ import annotations

import datetime
import re

PATTERN = r"^(19[7-9][0-9]|2[0-9]{3})-(0[1-9]|1[0-2])$"
"""1970-01 to 2999-12: every period has a start and an end `datetime.date` can hold (year 0
and 9999-12's end cannot be)."""


def start_of(moment: datetime.datetime) -> datetime.date:
    """The first day of the period `moment` (any timezone) falls in, in UTC."""
    utc = moment.astimezone(datetime.UTC)
    return datetime.date(utc.year, utc.month, 1)


def current() -> datetime.date:
    return start_of(datetime.datetime.now(datetime.UTC))


def parse(name: str) -> datetime.date:
    if not re.match(PATTERN, name):
        raise ValueError(f"a period is YYYY-MM, not {name!r}")
    year, month = name.split("-")
    return datetime.date(int(year), int(month), 1)


def name(start: datetime.date) -> str:
    return f"{start.year:04d}-{start.month:02d}"


def end_of(start: datetime.date) -> datetime.date:
    """The first day of the next period (exclusive end)."""
    return datetime.date(start.year + start.month // 12, start.month % 12 + 1, 1)
