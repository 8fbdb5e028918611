"""Deterministic synthetic prices, offline. Every result from here is labelled ``demo``.

A ticker's series is a fixed function of the ticker and the calendar: bars are generated from
a fixed epoch with a generator seeded by the ticker's hash, then cut at the last weekday. So
Friday's bar is the same whether the demo runs on Friday, Saturday or next month, and two runs
on the same day give identical results. The series switches between trend and volatility
regimes, and volume rises with the size of the move, so every verdict occurs across tickers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Final

import numpy as np

from stockscan.analysis.model import Bars
from stockscan.market import last_weekday
from stockscan.sources.base import Fetched, PriceSource, Provenance

EPOCH = np.datetime64("2021-01-01", "D")
HORIZON_BARS = 10000  # weekdays from EPOCH: covers dates to the 2050s
BARS_RETURNED = 400  # enough for SMA-200 and the 52-week range, with room to spare


class DemoSource(PriceSource):
    name: Final = "demo"

    def __init__(self, today: dt.date | None = None) -> None:
        self.end = np.datetime64(last_weekday(today), "D")

    def fetch(self, ticker: str) -> Fetched:
        return Fetched(demo_bars(ticker, self.end), Provenance.read_now())


def _weekdays() -> np.ndarray:
    days = EPOCH + np.arange(int(HORIZON_BARS * 7 / 5) + 7)
    weekday = (days.astype("int64") - 4) % 7  # 1970-01-01 was a Thursday: 0 = Monday
    return days[weekday < 5][:HORIZON_BARS]


_DATES = _weekdays()


def demo_bars(ticker: str, end: np.datetime64, count: int = BARS_RETURNED) -> Bars:
    seed = int.from_bytes(hashlib.sha256(ticker.encode()).digest()[:8], "little")
    stop = int(np.searchsorted(_DATES, end, side="right"))
    if stop < count:
        raise ValueError(f"demo data starts at {EPOCH}; {end} leaves fewer than {count} bars")
    n = stop

    def stream(k: int) -> np.random.Generator:
        # One generator per quantity: a longer series then extends each stream without
        # changing its prefix, so old bars never change as the calendar moves on.
        return np.random.default_rng([seed, k])

    # Regimes of 15–90 bars, each with its own drift and volatility.
    # Regimes of 15–90 bars, each with its own drift and volatility.
    lengths = stream(0).integers(15, 90, size=n // 15 + 1)
    drifts = stream(1).normal(0.0, 0.0018, size=lengths.size)
    vols = stream(2).uniform(0.008, 0.028, size=lengths.size)
    regime = np.repeat(np.arange(lengths.size), lengths)[:n]
    drift, vol = drifts[regime], vols[regime]
    returns = drift + vol * stream(3).standard_normal(n)

    start = float(np.exp(stream(4).uniform(np.log(40.0), np.log(4000.0))))
    close = start * np.exp(np.cumsum(returns))
    open_ = np.concatenate(([start], close[:-1])) * np.exp(0.3 * vol * stream(5).standard_normal(n))
    wicks = np.abs(stream(6).standard_normal((2, n))) * vol * 0.5
    high = np.maximum(open_, close) * np.exp(wicks[0])
    low = np.minimum(open_, close) * np.exp(-wicks[1])
    base_volume = float(np.exp(stream(7).uniform(np.log(5e4), np.log(5e6))))
    noise = np.exp(0.35 * stream(8).standard_normal(n))
    volume = np.round(base_volume * noise * (1.0 + 25.0 * np.abs(returns - drift)))

    cut = slice(stop - count, stop)
    return Bars(
        dates=_DATES[cut],
        open=np.round(open_[cut], 2),
        high=np.round(high[cut], 2),
        low=np.round(low[cut], 2),
        close=np.round(close[cut], 2),
        volume=volume[cut],
    )
