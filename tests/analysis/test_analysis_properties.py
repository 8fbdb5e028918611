"""Properties of analyze() on generated bars: bounded, consistent, deterministic, never crashing."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from stockscan.analysis import Analysis, Bars, analyze, position_size
from stockscan.analysis.plan import SIDES
from stockscan.analysis.scoring import verdict_for
from stockscan.errors import StockError

WalkFactory = Callable[..., Bars]
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _check(analysis: Analysis, capital: float, risk_pct: float) -> None:
    assert 0.0 <= analysis.score <= 100.0
    assert analysis.score == round(analysis.score, 1)
    assert analysis.verdict == verdict_for(analysis.score)
    plan = analysis.plan
    assert plan.side == SIDES[analysis.verdict]
    quantity = position_size(plan, capital, risk_pct)
    if plan.side == "none":
        assert quantity == 0 and plan.entry is None and plan.stop is None
    else:
        assert plan.entry is not None and plan.stop is not None and plan.target is not None
        assert plan.risk_per_share is not None
        if plan.side == "long":
            assert 0 < plan.stop < plan.entry < plan.target
        else:
            assert 0 < plan.target < plan.entry < plan.stop
        assert quantity * plan.risk_per_share <= capital * risk_pct / 100
        assert quantity * plan.entry <= capital
    for value in analysis.indicators.values():
        assert value is None or np.isfinite(value)
    encoded = json.dumps(analysis.raw, separators=(",", ":"), allow_nan=False)
    assert len(encoded.encode()) <= 8 * 1024


@SETTINGS
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(60, 400),
    start=st.floats(0.01, 5000.0),
    volatility=st.floats(0.001, 0.08),
    drift=st.floats(-0.01, 0.01),
    capital=st.floats(100.0, 1e8),
    risk_pct=st.floats(0.1, 100.0),
)
def test_random_walks(
    walk: WalkFactory,
    seed: int,
    n: int,
    start: float,
    volatility: float,
    drift: float,
    capital: float,
    risk_pct: float,
) -> None:
    bars = walk(seed, n, start=start, volatility=volatility, drift=drift)
    analysis = analyze(bars)
    _check(analysis, capital, risk_pct)
    assert analyze(bars) == analysis  # same input, same output


def _analyze_or_error(bars: Bars) -> Analysis | None:
    try:
        return analyze(bars)
    except StockError as error:
        assert error.kind in {"insufficient_history", "bad_data", "compute_error"}
        return None


@SETTINGS
@given(
    value=st.floats(1e-6, 1e9),
    n=st.integers(0, 300),
    volume=st.sampled_from([0.0, 1.0, 1e6]),
)
def test_constant_series(
    from_close: Callable[..., Bars], value: float, n: int, volume: float
) -> None:
    analysis = _analyze_or_error(from_close(np.full(n, value), volume=volume))
    if n < 60:
        assert analysis is None
    else:
        assert analysis is not None
        _check(analysis, 10_000, 1)
        assert analysis.score == 50.0


@SETTINGS
@given(
    first=st.floats(0.01, 1e4),
    ratio=st.floats(1e-3, 1e3),
    n=st.integers(0, 300),
    geometric=st.booleans(),
)
def test_monotone_series(
    from_close: Callable[..., Bars], first: float, ratio: float, n: int, geometric: bool
) -> None:
    last = first * ratio
    close = np.geomspace(first, last, n) if geometric else np.linspace(first, last, n)
    analysis = _analyze_or_error(from_close(close))
    if analysis is not None:
        _check(analysis, 10_000, 1)


@SETTINGS
@given(close=st.lists(st.floats(1e-6, 1e9), min_size=0, max_size=90))
def test_tiny_and_wild_series(from_close: Callable[..., Bars], close: list[float]) -> None:
    analysis = _analyze_or_error(from_close(np.array(close, dtype=np.float64)))
    if analysis is not None:
        _check(analysis, 10_000, 1)


columns = hnp.arrays(
    np.float64,
    st.integers(55, 70),
    elements=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.floats(1.0, 2.0),
    ),
)


@SETTINGS
@given(open_=columns, high=columns, low=columns, close=columns, volume=columns)
def test_garbage_is_a_stock_error(
    open_: np.ndarray, high: np.ndarray, low: np.ndarray, close: np.ndarray, volume: np.ndarray
) -> None:
    dates = np.datetime64("2020-01-01") + np.arange(open_.shape[0])
    analysis = _analyze_or_error(Bars(dates, open_, high, low, close, volume))
    if analysis is not None:
        _check(analysis, 10_000, 1)
