"""Requests and wall time of a nightly Yahoo scan with the price cache: cold, same-day, next-day.

Runs the real job loop, Yahoo source, fetch-ahead pool and rate budget in-process against a fake
``yfinance.Ticker`` whose every ``history()`` call takes ``--latency-ms`` (really sleeps: the
wall times are measured, not projected). Prints one JSON object: per scenario the requests
issued, the bars they returned, the most requests in flight at once, and the wall time.

Target (issue 4): cold = one request per ticker, same-day = none, next-day = one small request
per ticker. The wall time of a scan that makes requests is bound by the rate budget
(``--max-rps``) or by latency / ``--fetch-workers``, whichever is slower.
Usage: python bench/fetch.py [--tickers 500] [--latency-ms 300] [--fetch-workers 4]
       [--max-rps 2]   (0: no budget)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

IST = "Asia/Kolkata"
EPOCH = pd.Timestamp("2025-01-01")
FRIDAY, MONDAY = "2026-11-27", "2026-11-30"


def ist(day: str, hour: int) -> dt.datetime:
    return dt.datetime.fromisoformat(f"{day}T{hour:02d}:00+05:30").astimezone(dt.UTC)


def market_frame(end: str, scale: float) -> pd.DataFrame:
    """Shaped like ``Ticker.history(auto_adjust=True)``: tz-aware local index, plain columns."""
    index = pd.bdate_range(start="2025-01-01", end=end, tz=IST, name="Date")
    days = np.asarray((index.tz_localize(None) - EPOCH).days, dtype="float64")
    close = (100 + 0.05 * days + 3 * np.sin(days / 9)) * scale
    return pd.DataFrame(
        {
            "Open": close - 0.5,
            "High": close + 1,
            "Low": close - 1,
            "Close": close,
            "Volume": np.full(len(index), 1000, dtype="int64"),
            "Dividends": 0.0,
            "Stock Splits": 0.0,
        },
        index=index,
    )


class FakeYahoo:
    """Stands in for ``yfinance.Ticker``; counts requests and the bars they return."""

    def __init__(self, sleep_s: float) -> None:
        self.sleep_s = sleep_s
        self.frames: dict[str, pd.DataFrame] = {}
        self.requests = 0
        self.bars = 0
        self.in_flight = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()

    def __call__(self, ticker: str) -> Any:
        market = self

        class Ticker:
            def history(self, **kwargs: Any) -> pd.DataFrame:
                with market.lock:
                    market.in_flight += 1
                    market.most_in_flight = max(market.most_in_flight, market.in_flight)
                time.sleep(market.sleep_s)
                frame = market.frames[ticker]
                if "start" in kwargs:
                    frame = frame[frame.index >= pd.Timestamp(kwargs["start"]).tz_localize(IST)]
                with market.lock:
                    market.in_flight -= 1
                    market.requests += 1
                    market.bars += len(frame)
                return frame

        return Ticker()


def scan(
    db: Path, tickers: list[str], fake: FakeYahoo, now: dt.datetime, args: argparse.Namespace
) -> dict[str, Any]:
    from stockscan import jobs, store
    from stockscan.sources.cache import PriceCache
    from stockscan.sources.yahoo import YahooSource

    fake.requests = fake.bars = fake.most_in_flight = 0
    conn = store.open(db)
    try:
        source = YahooSource(
            cache=PriceCache(conn),
            now=lambda: now,
            workers=args.fetch_workers,
            max_requests_per_s=args.max_rps or None,
        )
        request = jobs.JobRequest(tickers=tuple(tickers), source="yahoo")
        start = time.perf_counter()
        outcome = jobs.run(conn, request, jobs.SilentReporter(), source=source)
        elapsed = time.perf_counter() - start
    finally:
        conn.close()
    return {
        "requests": fake.requests,
        "bars_returned": fake.bars,
        "most_in_flight": fake.most_in_flight,
        "succeeded": outcome.job["succeeded"],
        "failed": outcome.job["failed"],
        "wall_s": round(elapsed, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument("--latency-ms", type=float, default=300.0)
    parser.add_argument("--fetch-workers", type=int, default=4)
    parser.add_argument("--max-rps", type=float, default=2.0, help="0: no rate budget")
    args = parser.parse_args()

    import yfinance

    fake = FakeYahoo(args.latency_ms / 1000)
    yfinance.Ticker = fake  # type: ignore[assignment, misc]
    tickers = [f"T{i:04d}.NS" for i in range(args.tickers)]
    scenarios: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        for ticker_index, ticker in enumerate(tickers):
            fake.frames[ticker] = market_frame(FRIDAY, 1 + ticker_index / 100)
        scenarios["cold"] = scan(db, tickers, fake, ist(FRIDAY, 18), args)
        scenarios["same_day"] = scan(db, tickers, fake, ist(FRIDAY, 21), args)
        for ticker_index, ticker in enumerate(tickers):
            fake.frames[ticker] = market_frame(MONDAY, 1 + ticker_index / 100)
        scenarios["next_day"] = scan(db, tickers, fake, ist(MONDAY, 18), args)
    for result in scenarios.values():
        requests = result["requests"]
        result["requests_per_ticker"] = round(requests / len(tickers), 3)
        result["bars_per_request"] = round(result["bars_returned"] / requests, 1) if requests else 0
    print(
        json.dumps(
            {
                "tickers": len(tickers),
                "latency_ms": args.latency_ms,
                "fetch_workers": args.fetch_workers,
                "max_rps": args.max_rps or None,
                "scenarios": scenarios,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
