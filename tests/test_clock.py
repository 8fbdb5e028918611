"""One clock (``stockscan.clock``): every "now" of the program follows it when a test sets it."""

from __future__ import annotations

import datetime as dt

import pytest

from stockscan import clock, market
from stockscan.sources.demo import DemoSource
from stockscan.sources.yahoo import YahooSource

SATURDAY_IST_MORNING = dt.datetime(2026, 11, 28, 1, 0, tzinfo=dt.UTC)  # 06:30 in India


def test_a_frozen_clock_sets_every_now_of_the_program() -> None:
    with clock.frozen(SATURDAY_IST_MORNING):
        assert clock.now() == SATURDAY_IST_MORNING
        assert clock.now_iso() == "2026-11-28T01:00:00.000+00:00"
        assert clock.today_utc() == dt.date(2026, 11, 28)
        assert market.last_weekday() == dt.date(2026, 11, 27)
        assert market.market_today() == dt.date(2026, 11, 28)
        bars, provenance = DemoSource().fetch("TCS.NS")
        assert str(bars.dates[-1]) == "2026-11-27"
        assert provenance.fetched_at == "2026-11-28T01:00:00+00:00"
        assert YahooSource().now() == SATURDAY_IST_MORNING
    assert clock.now() != SATURDAY_IST_MORNING


def test_a_frozen_clock_may_be_a_function_and_is_always_utc() -> None:
    plus_five = dt.timezone(dt.timedelta(hours=5))
    ticks = iter([dt.datetime(2026, 1, 1, 12, minute, tzinfo=plus_five) for minute in (0, 1)])
    with clock.frozen(lambda: next(ticks)):
        first, second = clock.now(), clock.now()
    assert (first, second) == (
        dt.datetime(2026, 1, 1, 7, 0, tzinfo=dt.UTC),
        dt.datetime(2026, 1, 1, 7, 1, tzinfo=dt.UTC),
    )
    assert first.tzinfo is dt.UTC


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"), clock.frozen(dt.datetime(2026, 1, 1)):
        pass
