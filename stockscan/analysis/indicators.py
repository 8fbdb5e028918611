"""The indicator maths, as full series over the bars. numpy only; the one place it lives.

Every series has the length of the bars and is NaN until its lookback is filled. Where TA-Lib has
the same indicator, the seeding, smoothing and first valid index follow TA-Lib exactly (tested bar
by bar in ``tests/analysis/test_analysis_indicators.py``); ``docs/scoring.md`` states each
convention.

The recursive averages (EMA, Wilder) run as plain Python loops over Python floats: 500 bars take
tens of microseconds that way, while per-element numpy scalar arithmetic is an order slower.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from stockscan.analysis.model import INDICATOR_NAMES, Bars

FloatArray = npt.NDArray[np.float64]

SMA_PERIODS = (20, 50, 200)
EMA_PERIOD = 20
RSI_PERIOD = 14
MACD_FAST, MACD_SLOW, MACD_SIGNAL = 12, 26, 9
ATR_PERIOD = 14
BB_PERIOD, BB_STDDEV = 20, 2.0
ADX_PERIOD = 14
ROC_PERIOD = 20
VOLUME_PERIOD = 20
YEAR_BARS = 252  # trading days in 52 weeks

# Index of the first defined value of each series (TA-Lib's lookback where it has a twin).
FIRST_VALID: dict[str, int] = {
    "sma_20": 19,
    "sma_50": 49,
    "sma_200": 199,
    "ema_20": EMA_PERIOD - 1,
    "rsi_14": RSI_PERIOD,
    "macd": MACD_SLOW - 1 + MACD_SIGNAL - 1,
    "macd_signal": MACD_SLOW - 1 + MACD_SIGNAL - 1,
    "macd_hist": MACD_SLOW - 1 + MACD_SIGNAL - 1,
    "atr_14": ATR_PERIOD,
    "bb_upper": BB_PERIOD - 1,
    "bb_middle": BB_PERIOD - 1,
    "bb_lower": BB_PERIOD - 1,
    "adx_14": 2 * ADX_PERIOD - 1,
    "roc_20": ROC_PERIOD,
    # The mean is of the 20 bars *before* the current one, so 20 earlier bars are needed.
    "volume_ratio_20": VOLUME_PERIOD,
    "high_52w": YEAR_BARS - 1,
    "low_52w": YEAR_BARS - 1,
}
assert tuple(FIRST_VALID) == INDICATOR_NAMES


def _empty(n: int) -> FloatArray:
    return np.full(n, np.nan)


def _wilder_average(values: list[float], seed: float, period: int) -> list[float]:
    """[seed, then avg = (avg * (period - 1) + value) / period for each value]."""
    divisor = float(period)
    smoothing = divisor - 1.0
    out = [seed]
    append = out.append
    average = seed
    for value in values:
        average = (average * smoothing + value) / divisor
        append(average)
    return out


def _wilder_sum(values: list[float], seed: float, period: int) -> list[float]:
    """[s = s - s / period + value for each value], TA-Lib's form for ADX's smoothed sums."""
    divisor = float(period)
    out: list[float] = []
    append = out.append
    total = seed
    for value in values:
        total = total - total / divisor + value
        append(total)
    return out


def sma(values: FloatArray, period: int) -> FloatArray:
    """Simple moving average of the ``period`` values ending at each bar.

    A difference of cumulative sums: TA-Lib keeps a running sum too, so both round alike and the
    drift stays around 1e-13 relative even over thousands of bars.
    """
    n = values.shape[0]
    out = _empty(n)
    if n >= period:
        totals = np.cumsum(values)
        window_sums = totals[period - 1 :].copy()
        window_sums[1:] -= totals[: n - period]
        out[period - 1 :] = window_sums / period
    return out


def ema(values: FloatArray, period: int, first: int | None = None) -> FloatArray:
    """Exponential moving average, k = 2 / (period + 1), TA-Lib style.

    The first value, at index ``first`` (default ``period - 1``), is the simple mean of the
    ``period`` values ending there; values before ``first`` are ignored. MACD starts its fast EMA
    late this way so that both of its EMAs begin on the same bar, as TA-Lib does.
    """
    if first is None:
        first = period - 1
    n = values.shape[0]
    out = _empty(n)
    if n <= first:
        return out
    k = 2.0 / (period + 1)
    previous = 0.0
    for value in values[first - period + 1 : first + 1].tolist():
        previous += value  # sequential, like TA-Lib's seed sum
    previous /= period
    result = [previous]
    append = result.append
    for value in values[first + 1 :].tolist():
        previous = (value - previous) * k + previous
        append(previous)
    out[first:] = result
    return out


def rsi(close: FloatArray, period: int = RSI_PERIOD) -> FloatArray:
    """Wilder's RSI: the first average gain/loss is the mean of the first ``period`` changes,
    then avg = (avg * (period - 1) + change) / period.

    With no movement at all (average gain + loss exactly 0, e.g. a constant price) the RSI is
    50, neutral, where TA-Lib prints 0 (it treats any sum below 1e-8 as zero, which would also
    misread sub-penny stocks).
    """
    n = close.shape[0]
    out = _empty(n)
    if n <= period:
        return out
    changes = np.diff(close)
    gains = np.maximum(changes, 0.0).tolist()
    losses = np.maximum(-changes, 0.0).tolist()
    gain = loss = 0.0
    for j in range(period):
        gain += gains[j]
        loss += losses[j]
    gain /= period
    loss /= period
    # Adding the 0.0 of the other side is exact, so this equals TA-Lib's branchy update.
    up_average = np.array(_wilder_average(gains[period:], gain, period))
    down_average = np.array(_wilder_average(losses[period:], loss, period))
    total = up_average + down_average
    moving = total != 0.0
    out[period:] = np.where(moving, 100.0 * (up_average / np.where(moving, total, 1.0)), 50.0)
    return out


def true_range(high: FloatArray, low: FloatArray, close: FloatArray) -> FloatArray:
    """max(high - low, |high - previous close|, |low - previous close|); NaN on the first bar."""
    out = _empty(high.shape[0])
    previous_close = close[:-1]
    out[1:] = np.maximum(
        high[1:] - low[1:],
        np.maximum(np.abs(high[1:] - previous_close), np.abs(low[1:] - previous_close)),
    )
    return out


def atr(true_ranges: FloatArray, period: int = ATR_PERIOD) -> FloatArray:
    """Wilder's ATR: the mean of the first ``period`` true ranges (bars 1..period), then
    atr = (atr * (period - 1) + tr) / period."""
    n = true_ranges.shape[0]
    out = _empty(n)
    if n <= period:
        return out
    ranges = true_ranges[1:].tolist()
    previous = 0.0
    for value in ranges[:period]:
        previous += value
    out[period:] = _wilder_average(ranges[period:], previous / period, period)
    return out


def adx(
    high: FloatArray, low: FloatArray, true_ranges: FloatArray, period: int = ADX_PERIOD
) -> FloatArray:
    """Wilder's ADX exactly as TA-Lib computes it.

    +DM/-DM/TR are summed over bars 1..period-1, then Wilder-smoothed as running sums
    (s = s - s/period + x); DX = 100 |+DI - -DI| / (+DI + -DI); the first ADX, at bar
    2*period - 1, is the sum of the DX of bars period..2*period-1 divided by period, and later
    ones are adx = (adx * (period - 1) + dx) / period. A bar without range (TR sum or DI sum
    exactly 0) has no DX: it adds nothing to the first sum and leaves a later ADX unchanged, so a
    constant price has ADX 0 (no trend).
    """
    n = high.shape[0]
    out = _empty(n)
    first = 2 * period - 1
    if n <= first:
        return out
    up_move = high[1:] - high[:-1]
    down_move = low[:-1] - low[1:]
    plus_dm = np.where((up_move > 0) & (up_move > down_move), up_move, 0.0).tolist()
    minus_dm = np.where((down_move > 0) & (up_move < down_move), down_move, 0.0).tolist()
    ranges = true_ranges[1:].tolist()
    # The lists start at bar 1: element j belongs to bar j + 1.
    plus_sum = minus_sum = range_sum = 0.0
    for j in range(period - 1):
        plus_sum += plus_dm[j]
        minus_sum += minus_dm[j]
        range_sum += ranges[j]
    plus_sums = _wilder_sum(plus_dm[period - 1 :], plus_sum, period)
    minus_sums = _wilder_sum(minus_dm[period - 1 :], minus_sum, period)
    range_sums = _wilder_sum(ranges[period - 1 :], range_sum, period)
    # Bars period..n-1, vectorised: IEEE division gives the same bits as the scalar loop.
    smoothed_range = np.array(range_sums)
    has_range = smoothed_range != 0.0
    safe_range = np.where(has_range, smoothed_range, 1.0)
    minus_di = 100.0 * (np.array(minus_sums) / safe_range)
    plus_di = 100.0 * (np.array(plus_sums) / safe_range)
    di_sum = minus_di + plus_di
    defined = has_range & (di_sum != 0.0)
    dx = np.where(
        defined, 100.0 * (np.abs(minus_di - plus_di) / np.where(defined, di_sum, 1.0)), 0.0
    )
    dx_values = dx.tolist()
    dx_defined = defined.tolist()
    dx_sum = 0.0
    for j in range(period):
        dx_sum += dx_values[j]  # an undefined DX is 0.0 here: it adds nothing
    previous = dx_sum / period
    result = [previous]
    append = result.append
    divisor = float(period)
    smoothing = divisor - 1.0
    for value, is_defined in zip(dx_values[period:], dx_defined[period:], strict=True):
        if is_defined:
            previous = (previous * smoothing + value) / divisor
        append(previous)
    out[first:] = result
    return out


def macd(close: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """MACD 12/26/9 as TA-Lib aligns it: both EMAs are seeded at bar 25 (the fast one with the
    mean of bars 14..25, not at bar 11), the signal EMA is seeded with the mean of the MACD line
    over bars 25..33, and all three outputs start at bar 33."""
    first_line = MACD_SLOW - 1
    line = ema(close, MACD_FAST, first_line) - ema(close, MACD_SLOW, first_line)
    first = FIRST_VALID["macd"]
    signal = ema(line, MACD_SIGNAL, first)
    line[:first] = np.nan
    return line, signal, line - signal


def bollinger(close: FloatArray, middle: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Upper and lower band: middle ± 2 population standard deviations of the last 20 closes.

    Two-pass deviation about ``middle`` (the 20-bar SMA) rather than TA-Lib's E[x²] - E[x]², which
    loses digits on high prices; they agree far inside 1e-6.
    """
    n = close.shape[0]
    upper, lower = _empty(n), _empty(n)
    if n >= BB_PERIOD:
        windows = sliding_window_view(close, BB_PERIOD)
        deviations = windows - middle[BB_PERIOD - 1 :, None]
        width = BB_STDDEV * np.sqrt(np.mean(deviations * deviations, axis=1))
        upper[BB_PERIOD - 1 :] = middle[BB_PERIOD - 1 :] + width
        lower[BB_PERIOD - 1 :] = middle[BB_PERIOD - 1 :] - width
    return upper, lower


def roc(close: FloatArray, period: int = ROC_PERIOD) -> FloatArray:
    """Rate of change in percent: (close / close ``period`` bars ago - 1) * 100."""
    out = _empty(close.shape[0])
    if close.shape[0] > period:
        out[period:] = (close[period:] / close[:-period] - 1.0) * 100.0
    return out


def volume_ratio(volume: FloatArray, period: int = VOLUME_PERIOD) -> FloatArray:
    """Volume over the mean volume of the ``period`` bars *before* it (the current bar is left out
    of its own baseline, so a spike is not diluted by itself). NaN where that mean is 0."""
    n = volume.shape[0]
    out = _empty(n)
    if n > period:
        baseline = sma(volume, period)[period - 1 : n - 1]
        current = volume[period:]
        defined = baseline > 0.0
        out[period:] = np.where(defined, current / np.where(defined, baseline, 1.0), np.nan)
    return out


def rolling_extreme(values: FloatArray, period: int, *, highest: bool) -> FloatArray:
    """Highest (or lowest) value of the ``period`` bars ending at each bar, current one included."""
    out = _empty(values.shape[0])
    if values.shape[0] >= period:
        windows = sliding_window_view(values, period)
        out[period - 1 :] = windows.max(axis=1) if highest else windows.min(axis=1)
    return out


def compute(bars: Bars) -> dict[str, FloatArray]:
    """Every series of ``INDICATOR_NAMES`` over the bars (which should have been validated).

    high_52w / low_52w are the highest high / lowest low of the last 252 bars including the
    current one; with fewer than 252 bars they are NaN (undefined), never a shorter window.
    """
    high = np.asarray(bars.high, dtype=np.float64)
    low = np.asarray(bars.low, dtype=np.float64)
    close = np.asarray(bars.close, dtype=np.float64)
    volume = np.asarray(bars.volume, dtype=np.float64)
    with np.errstate(all="ignore"):
        ranges = true_range(high, low, close)
        sma_20 = sma(close, 20)
        upper, lower = bollinger(close, sma_20)
        line, signal, histogram = macd(close)
        series = {
            "sma_20": sma_20,
            "sma_50": sma(close, 50),
            "sma_200": sma(close, 200),
            "ema_20": ema(close, EMA_PERIOD),
            "rsi_14": rsi(close),
            "macd": line,
            "macd_signal": signal,
            "macd_hist": histogram,
            "atr_14": atr(ranges),
            "bb_upper": upper,
            "bb_middle": sma_20.copy(),
            "bb_lower": lower,
            "adx_14": adx(high, low, ranges),
            "roc_20": roc(close),
            "volume_ratio_20": volume_ratio(volume),
            "high_52w": rolling_extreme(high, YEAR_BARS, highest=True),
            "low_52w": rolling_extreme(low, YEAR_BARS, highest=False),
        }
    return series


def snapshot(series: dict[str, FloatArray]) -> dict[str, float | None]:
    """The value of each series at the last bar: a float, or None where undefined."""
    values: dict[str, float | None] = {}
    for name in INDICATOR_NAMES:
        column = series[name]
        value = float(column[-1]) if column.shape[0] else math.nan
        values[name] = None if math.isnan(value) else value
    return values
