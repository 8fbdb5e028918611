"""Market dates. The analysis date of a result is the market date of its newest bar; this module
only answers "which weekday is the newest one that can have a bar" for the demo source and for
grouping a day's requests into one job."""

from __future__ import annotations

import datetime as dt

from stockscan import clock


def last_weekday(today: dt.date | None = None) -> dt.date:
    """``today`` if it is Monday–Friday, else the Friday before it."""
    day = today or clock.today_utc()
    while day.weekday() >= 5:
        day -= dt.timedelta(days=1)
    return day


# NSE and BSE are in India: UTC+05:30 all year (no daylight saving).
INDIA = dt.timezone(dt.timedelta(hours=5, minutes=30), "IST")


def market_today(now: dt.datetime | None = None) -> dt.date:
    """The newest market date a bar can have: today's date in India.

    A bar dated after it is not a price but a typo or a broken feed (2099-12-31). It holds for
    other exchanges too: those west of India are behind it, and no session east of it opens on
    a date India has not reached (Tokyo opens at 05:30 IST, Sydney at 04:30, Wellington at
    02:30)."""
    return (now or clock.now()).astimezone(INDIA).date()
