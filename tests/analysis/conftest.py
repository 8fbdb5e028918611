"""Fixtures of the analysis tests: real GOOG bars and deterministic synthetic ones."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from stockscan.analysis import Bars

WalkFactory = Callable[..., Bars]


def random_walk(
    seed: int,
    n: int = 300,
    *,
    start: float = 50.0,
    volatility: float = 0.02,
    drift: float = 0.0,
    cents: bool = False,
    last_bar_complete: bool = True,
) -> Bars:
    """Geometric random walk with consistent OHLC (low <= open, close <= high) and volume."""
    rng = np.random.default_rng(seed)
    close = start * np.exp(np.cumsum(rng.normal(drift, volatility, n)))
    gap = np.exp(rng.normal(0.0, volatility / 4, n))
    open_ = np.concatenate(([close[0]], close[:-1])) * gap
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0.0, volatility / 2, n)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0.0, volatility / 2, n)))
    if cents:
        close, open_ = np.round(close, 2), np.round(open_, 2)
        high = np.maximum(np.ceil(high * 100) / 100, np.maximum(open_, close))
        low = np.minimum(np.floor(low * 100) / 100, np.minimum(open_, close))
    volume = np.round(rng.lognormal(13.0, 0.5, n))
    dates = np.datetime64("2015-01-02") + np.arange(n)
    return Bars(dates, open_, high, low, close, volume, last_bar_complete=last_bar_complete)


def bars_from_close(close: np.ndarray, volume: float = 1e6) -> Bars:
    """Bars whose open, high and low all equal the close: the simplest valid bars."""
    close = np.asarray(close, dtype=np.float64)
    n = close.shape[0]
    dates = np.datetime64("2015-01-02") + np.arange(n)
    return Bars(dates, close.copy(), close.copy(), close.copy(), close, np.full(n, volume))


@pytest.fixture(scope="session")
def goog_frame() -> pd.DataFrame:
    from backtesting.test import GOOG

    return GOOG.copy()


@pytest.fixture(scope="session")
def goog(goog_frame: pd.DataFrame) -> Bars:
    return Bars.from_frame(goog_frame)


@pytest.fixture(scope="session")
def walk() -> WalkFactory:
    return random_walk


@pytest.fixture(scope="session")
def from_close() -> Callable[..., Bars]:
    return bars_from_close
