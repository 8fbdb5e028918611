"""Bad input is a typed StockError of the right kind, never a number."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import pytest

from stockscan.analysis import MIN_BARS, Bars, analyze, validate
from stockscan.errors import StockError

WalkFactory = Callable[..., Bars]


def _with(bars: Bars, **columns: Any) -> Bars:
    return replace(bars, **columns)


def _set(bars: Bars, column: str, index: int, value: float) -> Bars:
    values = np.array(getattr(bars, column), dtype=np.float64)
    values[index] = value
    return _with(bars, **{column: values})


def _kind(bars: Bars) -> str:
    with pytest.raises(StockError) as caught:
        validate(bars)
    with pytest.raises(StockError) as again:
        analyze(bars)
    assert again.value.kind == caught.value.kind
    assert caught.value.message
    return caught.value.kind


@pytest.fixture
def good(walk: WalkFactory) -> Bars:
    return walk(7, 120)


def test_good_bars_pass(good: Bars) -> None:
    validate(good)  # no exception


def test_empty_bars_are_insufficient_history() -> None:
    empty = np.array([], dtype=np.float64)
    bars = Bars(np.array([], dtype="datetime64[D]"), empty, empty, empty, empty, empty)
    assert _kind(bars) == "insufficient_history"


def test_minimum_bars(walk: WalkFactory) -> None:
    assert _kind(walk(1, MIN_BARS - 1)) == "insufficient_history"
    assert _kind(walk(1, 1)) == "insufficient_history"
    assert analyze(walk(1, MIN_BARS)).bars_used == MIN_BARS


@pytest.mark.parametrize("column", ["open", "high", "low", "close", "volume"])
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_values(good: Bars, column: str, value: float) -> None:
    assert _kind(_set(good, column, 50, value)) == "bad_data"


@pytest.mark.parametrize("column", ["open", "high", "low", "close"])
@pytest.mark.parametrize("value", [0.0, -1.0])
def test_non_positive_prices(good: Bars, column: str, value: float) -> None:
    bars = _set(good, column, 10, value)
    if column != "low":  # keep the bar otherwise consistent, so the price is what is wrong
        bars = _set(bars, "low", 10, value)
    assert _kind(bars) == "bad_data"


def test_implausible_prices(good: Bars) -> None:
    huge = good.close * 1e9
    bars = _with(good, open=huge, high=huge, low=huge, close=huge)
    assert _kind(bars) == "bad_data"


def test_high_below_low(good: Bars) -> None:
    assert _kind(_set(good, "high", 30, float(good.low[30]) * 0.99)) == "bad_data"


@pytest.mark.parametrize(
    ("column", "where"), [("close", "high"), ("close", "low"), ("open", "high"), ("open", "low")]
)
def test_open_and_close_outside_the_range(good: Bars, column: str, where: str) -> None:
    factor = 1.01 if where == "high" else 0.99
    assert _kind(_set(good, column, 40, float(getattr(good, where)[40]) * factor)) == "bad_data"


def test_float_noise_at_the_range_edge_is_accepted(good: Bars) -> None:
    # Adjusted data: the close equals the high up to the last bit.
    bars = _set(good, "close", 40, float(np.nextafter(good.high[40], np.inf)))
    validate(bars)  # no exception


def test_negative_volume(good: Bars) -> None:
    assert _kind(_set(good, "volume", 5, -1.0)) == "bad_data"


def test_duplicate_dates(good: Bars) -> None:
    dates = good.dates.copy()
    dates[60] = dates[59]
    assert _kind(_with(good, dates=dates)) == "bad_data"


def test_unsorted_dates(good: Bars) -> None:
    assert _kind(_with(good, dates=good.dates[::-1].copy())) == "bad_data"
    dates = good.dates.copy()
    dates[[10, 11]] = dates[[11, 10]]
    assert _kind(_with(good, dates=dates)) == "bad_data"


def test_missing_date(good: Bars) -> None:
    dates = good.dates.copy()
    dates[3] = np.datetime64("NaT")
    assert _kind(_with(good, dates=dates)) == "bad_data"


def test_two_timestamps_on_one_market_date(good: Bars) -> None:
    stamps = good.dates.astype("datetime64[s]")
    stamps[1] = stamps[0] + np.timedelta64(3600, "s")
    assert _kind(_with(good, dates=stamps)) == "bad_data"


def test_numbers_are_not_dates(good: Bars) -> None:
    assert _kind(_with(good, dates=np.arange(len(good)))) == "bad_data"


@pytest.mark.parametrize("column", ["dates", "open", "high", "low", "close", "volume"])
def test_arrays_of_different_lengths(good: Bars, column: str) -> None:
    assert _kind(_with(good, **{column: getattr(good, column)[:-1]})) == "bad_data"


def test_two_dimensional_arrays(good: Bars) -> None:
    assert _kind(_with(good, close=np.stack([good.close, good.close]))) == "bad_data"


def test_non_numeric_values(good: Bars) -> None:
    close = good.close.astype(object)
    close[3] = "n/a"
    assert _kind(_with(good, close=close)) == "bad_data"


def test_bad_data_is_reported_before_a_short_history(good: Bars) -> None:
    columns = ("dates", "open", "high", "low", "close", "volume")
    short = _with(good, **{column: getattr(good, column)[:10] for column in columns})
    assert _kind(_set(short, "close", 2, np.nan)) == "bad_data"


def test_integer_and_string_inputs_are_accepted(good: Bars) -> None:
    bars = _with(
        good,
        dates=np.array([str(d) for d in good.dates]),
        volume=good.volume.astype(np.int64),
    )
    assert analyze(bars).score == analyze(good).score


def test_compute_error_when_the_maths_fails(good: Bars, monkeypatch: pytest.MonkeyPatch) -> None:
    from stockscan.analysis import engine

    compute = engine.indicators.compute

    def broken(bars: Bars) -> dict[str, np.ndarray]:
        series = compute(bars)
        series["rsi_14"] = np.full(len(bars), np.nan)
        return series

    monkeypatch.setattr(engine.indicators, "compute", broken)
    with pytest.raises(StockError) as caught:
        analyze(good)
    assert caught.value.kind == "compute_error"
    assert "rsi_14" in caught.value.message
