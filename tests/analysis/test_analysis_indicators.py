"""Every indicator equals TA-Lib's (or a plain reference) on every bar, NaN lookback included."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable

import numpy as np
import pytest
import talib
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockscan.analysis import INDICATOR_NAMES, Bars, compute
from stockscan.analysis.indicators import FIRST_VALID

RTOL, ATOL = 1e-6, 1e-9


def _volume_ratio(bars: Bars) -> np.ndarray:
    """Volume over the mean of the 20 bars before it, from TA-Lib's SMA shifted by one bar."""
    out = np.full(len(bars), np.nan)
    if len(bars) > 20:
        out[20:] = bars.volume[20:] / talib.SMA(bars.volume, 20)[19:-1]
    return out


def _macd(part: int) -> Callable[[Bars], np.ndarray]:
    return lambda b: talib.MACD(b.close, 12, 26, 9)[part]


def _bbands(part: int) -> Callable[[Bars], np.ndarray]:
    return lambda b: talib.BBANDS(b.close, 20, 2.0, 2.0, talib.MA_Type.SMA)[part]


REFERENCES: dict[str, Callable[[Bars], np.ndarray]] = {
    "sma_20": lambda b: talib.SMA(b.close, 20),
    "sma_50": lambda b: talib.SMA(b.close, 50),
    "sma_200": lambda b: talib.SMA(b.close, 200),
    "ema_20": lambda b: talib.EMA(b.close, 20),
    "rsi_14": lambda b: talib.RSI(b.close, 14),
    "macd": _macd(0),
    "macd_signal": _macd(1),
    "macd_hist": _macd(2),
    "atr_14": lambda b: talib.ATR(b.high, b.low, b.close, 14),
    "bb_upper": _bbands(0),
    "bb_middle": _bbands(1),
    "bb_lower": _bbands(2),
    "adx_14": lambda b: talib.ADX(b.high, b.low, b.close, 14),
    "roc_20": lambda b: talib.ROC(b.close, 20),
    "volume_ratio_20": _volume_ratio,
    "high_52w": lambda b: talib.MAX(b.high, 252),
    "low_52w": lambda b: talib.MIN(b.low, 252),
}


def _slice(bars: Bars, window: slice) -> Bars:
    return Bars(
        bars.dates[window],
        bars.open[window],
        bars.high[window],
        bars.low[window],
        bars.close[window],
        bars.volume[window],
    )


def assert_matches(ours: np.ndarray, reference: np.ndarray, name: str) -> None:
    assert ours.shape == reference.shape, name
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(reference), err_msg=f"{name} NaNs")
    defined = ~np.isnan(reference)
    np.testing.assert_allclose(
        ours[defined], reference[defined], rtol=RTOL, atol=ATOL, err_msg=name
    )


def test_references_cover_every_indicator() -> None:
    assert tuple(REFERENCES) == INDICATOR_NAMES == tuple(FIRST_VALID)


@pytest.mark.parametrize("name", INDICATOR_NAMES)
def test_matches_talib_on_goog(goog: Bars, name: str) -> None:
    ours = compute(goog)[name]
    reference = REFERENCES[name](goog)
    assert_matches(ours, reference, name)
    # The lookback is TA-Lib's: the first defined bar is the same one.
    assert int(np.argmax(~np.isnan(ours))) == FIRST_VALID[name]
    assert int(np.argmax(~np.isnan(reference))) == FIRST_VALID[name]
    assert np.isfinite(ours[FIRST_VALID[name] :]).all()


@pytest.mark.parametrize("window", [slice(0, 300), slice(700, 1000), slice(1500, 1560)])
def test_matches_talib_on_goog_slices(goog: Bars, window: slice) -> None:
    part = _slice(goog, window)
    series = compute(part)
    for name in INDICATOR_NAMES:
        assert_matches(series[name], REFERENCES[name](part), name)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 400),
    start=st.sampled_from([0.05, 3.0, 80.0, 2500.0]),
    volatility=st.sampled_from([0.002, 0.02, 0.06]),
    cents=st.booleans(),
)
def test_matches_talib_on_random_walks(
    walk: Callable[..., Bars], seed: int, n: int, start: float, volatility: float, cents: bool
) -> None:
    bars = walk(seed, n, start=start, volatility=volatility, cents=cents and start > 1)
    series = compute(bars)
    for name in INDICATOR_NAMES:
        assert series[name].shape == (n,)
        assert_matches(series[name], REFERENCES[name](bars), name)


def test_constant_price_conventions(from_close: Callable[..., Bars]) -> None:
    series = compute(from_close(np.full(300, 42.5)))
    last = {name: float(values[-1]) for name, values in series.items()}
    assert last["rsi_14"] == 50.0  # TA-Lib says 0; no movement is neutral, not oversold
    assert last["adx_14"] == 0.0
    assert last["atr_14"] == 0.0
    assert last["macd"] == last["macd_signal"] == last["macd_hist"] == 0.0
    assert last["bb_upper"] == pytest.approx(42.5) and last["bb_lower"] == pytest.approx(42.5)
    assert last["volume_ratio_20"] == 1.0
    assert last["high_52w"] == last["low_52w"] == 42.5
    for name, values in series.items():
        assert np.isfinite(values[FIRST_VALID[name] :]).all(), name


def test_volume_ratio_excludes_current_bar_and_zero_volume_is_undefined(
    from_close: Callable[..., Bars],
) -> None:
    bars = from_close(np.linspace(10, 20, 80))
    volume = np.full(80, 100.0)
    volume[-1] = 300.0
    volume[30:55] = 0.0  # 20 silent bars leave no baseline at bars 50..55
    series = compute(Bars(bars.dates, bars.open, bars.high, bars.low, bars.close, volume))
    ratio = series["volume_ratio_20"]
    assert ratio[-1] == 3.0  # 300 over the mean of the 20 bars before, all 100
    assert ratio[49] == 0.0  # silent itself, over a baseline that still has one bar of 100
    assert np.isnan(ratio[50:56]).all()  # the 20 bars before are all silent: undefined
    assert ratio[56] == 20.0  # 100 over a baseline of one 100 in 20 bars


def test_52_week_needs_252_bars(goog: Bars) -> None:
    series = compute(_slice(goog, slice(0, 251)))
    assert np.isnan(series["high_52w"]).all() and np.isnan(series["low_52w"]).all()
    full = compute(goog)
    assert full["high_52w"][251] == goog.high[:252].max()
    assert full["low_52w"][-1] == goog.low[-252:].min()


def test_engine_imports_neither_pandas_nor_talib() -> None:
    code = (
        "import sys, numpy as np\n"
        "from stockscan.analysis import Bars, analyze\n"
        "n = 300\n"
        "c = 50 + np.sin(np.arange(n) / 7.0)\n"
        "d = np.datetime64('2020-01-01') + np.arange(n)\n"
        "analyze(Bars(d, c, c + 1, c - 1, c, np.full(n, 1e5)))\n"
        "print(sorted(m for m in ('pandas', 'talib', 'backtesting') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
