"""Market dates. The analysis date of a result is the market date of its newest bar; this module
only answers "which weekday is the newest one that can have a bar" for the demo source and for
grouping a day's requests into one job."""

from __future__ import annotations

import datetime as dt


def today_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def last_weekday(today: dt.date | None = None) -> dt.date:
    """``today`` if it is Monday–Friday, else the Friday before it."""
    day = today or today_utc()
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day
