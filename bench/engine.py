"""Benchmark of the analysis engine: analyze() per ticker on 500 daily bars, over 500 tickers.

Run from the repository root: ``.venv/bin/python bench/engine.py``. Prints one JSON object:
median and p95 milliseconds per ticker (indicators + score + plan + raw data, one core) and the
size of the raw data as compact JSON. The target is a median of at most 1.5 ms.
"""

from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from collections import Counter

import numpy as np

from stockscan.analysis import SCORING_VERSION, Bars, analyze

TICKERS = 500
BARS = 500
SEED = 20130301
WARMUP = 20


def synthetic_bars(rng: np.random.Generator) -> Bars:
    """One deterministic ticker: a geometric random walk with its own price level, volatility
    and drift, consistent OHLC and log-normal volume."""
    start = float(np.exp(rng.uniform(np.log(2.0), np.log(2000.0))))
    volatility = float(rng.uniform(0.005, 0.04))
    drift = float(rng.normal(0.0, 0.001))
    close = start * np.exp(np.cumsum(rng.normal(drift, volatility, BARS)))
    open_ = np.concatenate(([close[0]], close[:-1])) * np.exp(rng.normal(0, volatility / 4, BARS))
    high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, volatility / 2, BARS)))
    low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, volatility / 2, BARS)))
    volume = np.round(rng.lognormal(14.0, 0.5, BARS))
    dates = np.datetime64("2021-01-04") + np.arange(BARS)
    return Bars(dates, open_, high, low, close, volume)


def main() -> None:
    rng = np.random.default_rng(SEED)
    universe = [synthetic_bars(rng) for _ in range(TICKERS)]
    for bars in universe[:WARMUP]:
        analyze(bars)

    timings_ms: list[float] = []
    raw_bytes: list[int] = []
    verdicts: Counter[str] = Counter()
    started = time.perf_counter()
    for bars in universe:
        before = time.perf_counter_ns()
        analysis = analyze(bars)
        timings_ms.append((time.perf_counter_ns() - before) / 1e6)
        raw_bytes.append(len(json.dumps(analysis.raw, separators=(",", ":")).encode()))
        verdicts[analysis.verdict] += 1
    elapsed = time.perf_counter() - started

    timings_ms.sort()
    result = {
        "benchmark": "analyze",
        "tickers": TICKERS,
        "bars_per_ticker": BARS,
        "median_ms": round(statistics.median(timings_ms), 3),
        "p95_ms": round(timings_ms[int(0.95 * (len(timings_ms) - 1))], 3),
        "max_ms": round(timings_ms[-1], 3),
        "raw_bytes_median": int(statistics.median(raw_bytes)),
        "raw_bytes_max": max(raw_bytes),
        "total_s": round(elapsed, 2),
        "verdicts": dict(sorted(verdicts.items())),
        "scoring_version": SCORING_VERSION,
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
