"""Checks that bars can be analysed, so that bad input is a typed ``StockError``, never a number.

Data-quality problems (``bad_data``) are reported before a short history
(``insufficient_history``): broken data is worth knowing about even when it is also short.
"""

from __future__ import annotations

import datetime as dt

import numpy as np

from stockscan.analysis.indicators import FloatArray
from stockscan.analysis.model import Bars
from stockscan.errors import StockError

# Enough for every indicator except SMA-200 and the 52-week range, plus the 10-bar SMA-50 slope
# (SMA-50 is first defined at bar 49, and ten bars earlier than the last is needed).
MIN_BARS = 60
# Outside these a price or volume is a unit or parsing error, and float maths loses its meaning
# (squares overflow or underflow in the Bollinger deviation).
MIN_PRICE, MAX_PRICE = 1e-6, 1e9
MAX_VOLUME = 1e15
# Adjusted prices are products of floats: allow a rounding-sized excursion of open/close
# outside [low, high], nothing a person could see.
RANGE_TOLERANCE = 1e-9


def _bad(message: str) -> StockError:
    return StockError("bad_data", message)


def _first(mask: np.ndarray, dates: np.ndarray) -> str:
    index = int(np.argmax(mask))
    return f"bar {index} ({dates[index]})" if index < dates.shape[0] else f"bar {index}"


def check(bars: Bars) -> Bars:
    """Validate ``bars`` and return them with ``datetime64[D]`` dates and float64 arrays;
    raise ``StockError`` otherwise."""
    try:
        dates = np.asarray(bars.dates)
        # Numbers would silently become days since 1970; only dates or date strings are dates.
        if dates.dtype.kind not in "MOUS":
            raise TypeError(f"dates have dtype {dates.dtype}, not datetime64")
        dates = dates.astype("datetime64[D]")
        columns = {
            name: np.ascontiguousarray(getattr(bars, name), dtype=np.float64)
            for name in ("open", "high", "low", "close", "volume")
        }
    except (TypeError, ValueError) as error:
        raise _bad(f"bars are not dates and numbers: {error}") from None

    arrays = {"dates": dates, **columns}
    shapes = {name: array.shape for name, array in arrays.items()}
    if any(len(shape) != 1 for shape in shapes.values()):
        raise _bad(f"bars must be one-dimensional arrays, got shapes {shapes}")
    lengths = {name: shape[0] for name, shape in shapes.items()}
    if len(set(lengths.values())) != 1:
        detail = ", ".join(f"{name} {length}" for name, length in lengths.items())
        raise _bad(f"bar arrays have different lengths: {detail}")

    n = lengths["dates"]
    if n:
        _check_values(dates, columns)

    if n < MIN_BARS:
        raise StockError(
            "insufficient_history", f"{n} bars; the analysis needs at least {MIN_BARS}"
        )
    return Bars(dates=dates, **columns, last_bar_complete=bool(bars.last_bar_complete))


def _check_values(dates: np.ndarray, columns: dict[str, FloatArray]) -> None:
    if np.isnat(dates).any():
        raise _bad(f"missing date at {_first(np.isnat(dates), dates)}")
    steps = np.diff(dates.astype(np.int64))
    if (steps == 0).any():
        index = int(np.argmax(steps == 0)) + 1
        raise _bad(f"duplicate date {dates[index]} at bar {index}")
    if (steps < 0).any():
        index = int(np.argmax(steps < 0)) + 1
        raise _bad(f"dates not in ascending order: {dates[index]} follows {dates[index - 1]}")

    for name, values in columns.items():
        finite = np.isfinite(values)
        if not finite.all():
            raise _bad(f"{name} is NaN or infinite at {_first(~finite, dates)}")
    for name in ("open", "high", "low", "close"):
        values = columns[name]
        if (values <= 0).any():
            raise _bad(f"{name} is not positive at {_first(values <= 0, dates)}")
        outside = (values < MIN_PRICE) | (values > MAX_PRICE)
        if outside.any():
            raise _bad(
                f"{name} {values[np.argmax(outside)]!r} at {_first(outside, dates)} is outside "
                f"the plausible range [{MIN_PRICE:g}, {MAX_PRICE:g}]"
            )
    volume = columns["volume"]
    if (volume < 0).any():
        raise _bad(f"volume is negative at {_first(volume < 0, dates)}")
    if (volume > MAX_VOLUME).any():
        raise _bad(f"volume is implausibly large at {_first(volume > MAX_VOLUME, dates)}")

    high, low = columns["high"], columns["low"]
    inverted = high < low
    if inverted.any():
        raise _bad(f"high is below low at {_first(inverted, dates)}")
    slack = high * RANGE_TOLERANCE
    for name in ("open", "close"):
        values = columns[name]
        outside = (values > high + slack) | (values < low - slack)
        if outside.any():
            raise _bad(f"{name} is outside [low, high] at {_first(outside, dates)}")


def check_not_after(bars: Bars, newest: dt.date) -> None:
    """``bad_data`` when a bar is dated after ``newest``, the current market date
    (``stockscan.market.market_today``): such a bar is a typo or a broken feed, and its result
    would be every listing's "latest" forever. The job loop checks every source's bars with
    this as they arrive, before anything compares them with a stored result; ``check`` itself
    keeps no clock, so the analysis stays a pure function of its bars. Weekend bars are
    ordinary bars: NSE and BSE hold sessions on a Saturday or Sunday now and then (Muhurat
    trading, Budget day)."""
    try:
        dates = np.asarray(bars.dates).astype("datetime64[D]")
    except (TypeError, ValueError):
        return  # not dates at all: check() says so
    future = dates > np.datetime64(newest, "D")
    if future.any():
        raise _bad(f"{_first(future, dates)} is dated after the current market date {newest}")


def validate(bars: Bars) -> None:
    """Raise ``StockError`` (``bad_data`` or ``insufficient_history``) unless ``bars`` can be
    analysed: equal-length 1-D arrays, at least ``MIN_BARS`` bars, strictly ascending dates,
    finite prices within [1e-6, 1e9], low <= open, close <= high, finite volume >= 0."""
    check(bars)
