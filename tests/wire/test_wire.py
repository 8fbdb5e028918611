"""The Yahoo source through the real, unmodified yfinance, with only Yahoo's servers replaced
(tests/wire/yahoo.py): the normal path in-process, and the eight failure cases of issue 15,
through real processes where exit codes and timings matter."""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stockscan.errors import SourceUnavailable, StockError
from stockscan.sources.cache import PriceCache
from stockscan.sources.yahoo import BREAKER_S, YahooSource
from tests.reliability.conftest import harness
from tests.wire.yahoo import IST, Blackhole, Wire, price_of, reset_yfinance, wire_client

FRIDAY = dt.date(2026, 11, 27)
MONDAY = dt.date(2026, 11, 30)
FAST = ["--max-rps", "1000", "--fetch-workers", "4"]


def ist(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=IST)


@pytest.fixture
def wire() -> Iterator[Wire]:
    server = Wire(scenario={"end": FRIDAY.isoformat()})
    reset_yfinance()
    with wire_client(server.url):
        yield server
    reset_yfinance()
    server.close()


def source(conn: sqlite3.Connection | None, now: dt.datetime, **kwargs: Any) -> YahooSource:
    return YahooSource(
        cache=PriceCache(conn) if conn is not None else None, now=lambda: now,
        max_requests_per_s=None, **kwargs,
    )  # fmt: skip


def statuses(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [r[0] for r in conn.execute("SELECT status FROM analysis_jobs_details")]


def our_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if not line.startswith("HARNESS:")]


# --- the normal path ---------------------------------------------------------------------------


def test_real_yfinance_dated_to_the_last_session_with_yahoos_adjusted_closes(
    conn: sqlite3.Connection, wire: Wire
) -> None:
    wire.scenario["dividend"] = {"TCS.NS": {"date": "2026-11-20", "amount": 12.0}}
    bars = source(conn, ist(FRIDAY, 18)).fetch("TCS.NS").bars
    assert str(bars.dates[-1]) == FRIDAY.isoformat() and bars.last_bar_complete
    days = [dt.date.fromisoformat(str(d)) for d in bars.dates[-10:]]
    expected = [wire.adjclose("TCS.NS", d, price_of("TCS.NS", d)[4]) for d in days]
    assert np.allclose(bars.close[-10:], expected, rtol=1e-6)  # the stored closes are adjclose
    before_dividend = dt.date.fromisoformat(str(bars.dates[-8]))
    assert bars.close[-8] < price_of("TCS.NS", before_dividend)[3]  # really adjusted
    cached = PriceCache(conn).bars("yahoo", "TCS.NS", True)
    assert cached is not None and np.allclose(cached.close[-10:], expected, rtol=1e-6)


def test_a_live_bar_is_dropped_during_market_hours(conn: sqlite3.Connection, wire: Wire) -> None:
    bars = source(conn, ist(FRIDAY, 11)).fetch("TCS.NS").bars
    assert str(bars.dates[-1]) == "2026-11-26"


def test_same_day_rerun_sends_nothing_and_next_session_one_start_request_per_ticker(
    conn: sqlite3.Connection, wire: Wire
) -> None:
    tickers = ["TCS.NS", "M&M.NS", "BAJAJ-AUTO.NS"]
    cold = source(conn, ist(FRIDAY, 18))
    for ticker in tickers:
        assert str(cold.fetch(ticker).bars.dates[-1]) == FRIDAY.isoformat()
    assert {h for h, _, _ in wire.requests} >= {"fc.yahoo.com", "query2.finance.yahoo.com"}
    assert [q.get("range") for q in wire.charts("M&M.NS")] == [["1d"], ["2y"]]
    assert cold.requests == len(wire.requests)  # every real request is counted
    print(f"cold, {len(tickers)} tickers in one process: {cold.requests} requests")
    wire.reset()
    for ticker in tickers:
        source(conn, ist(FRIDAY, 20)).fetch(ticker)
    assert wire.requests == []
    wire.scenario["end"] = MONDAY.isoformat()
    monday = source(conn, ist(MONDAY, 18))
    for ticker in tickers:
        assert str(monday.fetch(ticker).bars.dates[-1]) == MONDAY.isoformat()
    charts = wire.charts()
    assert len(charts) == len(tickers) == len(wire.requests) == monday.requests
    assert all("period1" in q and "range" not in q for q in charts)


def test_a_new_dividend_refetches_the_whole_history(conn: sqlite3.Connection, wire: Wire) -> None:
    source(conn, ist(FRIDAY, 18)).fetch("TCS.NS")
    wire.scenario["end"] = MONDAY.isoformat()
    wire.scenario["dividend"] = {"TCS.NS": {"date": MONDAY.isoformat(), "amount": 20.0}}
    bars = source(conn, ist(MONDAY, 18)).fetch("TCS.NS").bars
    assert [q.get("range", ["start"])[0] for q in wire.charts("TCS.NS")] == [
        "1d",
        "2y",
        "start",
        "2y",
    ]
    friday = wire.adjclose("TCS.NS", FRIDAY, price_of("TCS.NS", FRIDAY)[4])
    assert bars.close[-2] == pytest.approx(friday, rel=1e-6)


# --- 8. classified by Yahoo's answer, not by the exception class ---------------------------------


def test_an_unknown_symbol_is_invalid_at_once_not_retried_as_a_network_failure(
    conn: sqlite3.Connection, wire: Wire
) -> None:
    src = source(conn, ist(FRIDAY, 18), backoff_s=0.01)
    with pytest.raises(StockError) as failed:
        src.fetch("NOPE.NS")
    assert failed.value.kind == "invalid_symbol", failed.value
    assert src.calls == 1  # one history() call: a 404 "Not Found" is an answer, not a failure
    assert len(wire.charts("NOPE.NS")) == 1
    print(f"unknown symbol: {len(wire.requests)} requests")


# --- 3. Yahoo's 500s are transient --------------------------------------------------------------


@pytest.mark.parametrize("page", ["json", "html"])
def test_a_yahoo_500_is_retried_then_stops_the_run_never_an_invalid_symbol(
    conn: sqlite3.Connection, wire: Wire, page: str
) -> None:
    wire.scenario["error_500"] = page
    src = source(conn, ist(FRIDAY, 18), backoff_s=0.01)
    with pytest.raises(SourceUnavailable) as stopped:
        src.fetch("TCS.NS")
    assert "HTTP 500" in str(stopped.value.__cause__)
    assert src.calls == src.retries + 1  # retried
    wire.scenario.pop("error_500")
    assert str(src.fetch("TCS.NS").bars.dates[-1]) == FRIDAY.isoformat()  # and healthy afterwards


@pytest.mark.parametrize("page", ["json", "html"])
def test_a_persistent_500_exits_75_with_the_stock_pending(db_path: Path, page: str) -> None:
    server = Wire(scenario={"error_500": page})
    try:
        run = harness("analyze", *FAST, "TCS.NS", "INFY.NS", config={"wire": server.url})
    finally:
        server.close()
    assert run.returncode == 75, run.stderr
    assert statuses(db_path) == ["pending", "pending"]
    assert len(our_lines(run.stderr)) == 1 and "HTTP 500" in run.stderr


# --- 1. a total rate limit stops the run in bounded time ----------------------------------------


@pytest.mark.parametrize("count", [3, 20, 200])
def test_a_total_rate_limit_exits_75_within_30_s_whatever_the_number(
    db_path: Path, count: int
) -> None:
    server = Wire(scenario={"rate_limited": True})
    tickers = [f"T{i:03d}.NS" for i in range(count)]
    started = time.monotonic()
    try:
        run = harness("analyze", "--fetch-workers", "4", *tickers, config={"wire": server.url})
    finally:
        server.close()
    took = time.monotonic() - started
    print(f"rate limit, {count} tickers: exit {run.returncode} after {took:.1f} s")
    assert run.returncode == 75, run.stderr
    assert took <= 30, took
    assert set(statuses(db_path)) == {"pending"}
    assert len(our_lines(run.stderr)) == 1, run.stderr
    assert our_lines(run.stderr)[0].startswith("Error: Yahoo is rate-limiting")


# --- 2 and 4. a dead network stops the run, and is never a stock's failure -----------------------


def test_a_black_holed_network_exits_75_in_bounded_time(db_path: Path) -> None:
    hole = Blackhole()
    tickers = [f"T{i:02d}.NS" for i in range(20)]
    started = time.monotonic()
    try:
        run = harness("analyze", "--fetch-workers", "4", *tickers, config={"wire": hole.url})
    finally:
        hole.close()
    took = time.monotonic() - started
    print(f"black hole, 20 tickers: exit {run.returncode} after {took:.1f} s")
    assert run.returncode == 75, run.stderr
    assert took <= BREAKER_S + 15, took
    assert set(statuses(db_path)) == {"pending"}
    assert len(our_lines(run.stderr)) == 1, run.stderr
    assert our_lines(run.stderr)[0].startswith("Error: cannot reach Yahoo")


def test_one_ticker_with_the_network_down_exits_75_not_4(db_path: Path) -> None:
    hole = Blackhole()
    port = hole.url
    hole.close()  # nothing listens there any more: every connection is refused
    run = harness("analyze", "TCS.NS", config={"wire": port})
    assert run.returncode == 75, run.stderr
    assert statuses(db_path) == ["pending"]
    assert len(our_lines(run.stderr)) == 1 and "the network looks down" in run.stderr


# --- 5. one bad bar ---------------------------------------------------------------------------


def test_a_zero_open_bar_is_dropped_not_a_two_year_failure(
    conn: sqlite3.Connection, wire: Wire
) -> None:
    wire.scenario["zero_open"] = {"SBIN.NS": "2026-05-04"}
    bars = source(conn, ist(FRIDAY, 18)).fetch("SBIN.NS").bars
    assert "2026-05-04" not in {str(d) for d in bars.dates}
    assert str(bars.dates[-1]) == FRIDAY.isoformat() and (bars.open > 0).all()
    cached = PriceCache(conn).bars("yahoo", "SBIN.NS", True)
    assert cached is not None and (cached.open > 0).all()


# --- 6. nothing of yfinance's or pandas' on our stderr -------------------------------------------


def test_a_quiet_run_writes_nothing_to_stderr(db_path: Path) -> None:
    server = Wire()
    try:
        run = harness("analyze", "-q", *FAST, "TCS.NS", "INFY.NS", "SBIN.NS",
                      config={"wire": server.url})  # fmt: skip
    finally:
        server.close()
    assert run.returncode == 0, run.stderr
    print(f"quiet run: {len(run.stderr.splitlines())} lines on stderr")
    assert run.stderr.splitlines() == []


# --- 7. the budget counts and paces real requests -------------------------------------------------


def test_the_budget_paces_every_real_request(conn: sqlite3.Connection, wire: Wire) -> None:
    src = YahooSource(cache=PriceCache(conn), now=lambda: ist(FRIDAY, 18), max_requests_per_s=5)
    src.fetch("TCS.NS")
    cold = len(wire.requests)
    assert src.requests == cold >= 4  # probe, cookie, crumb, chart (and yfinance's extras)
    gaps = np.diff(wire.times)
    assert (gaps >= 0.2 - 0.02).all(), gaps  # 5 a second: every request, not every call
    print(f"requests per ticker: cold {cold}")


def test_a_next_day_run_in_a_new_process_sends_one_chart_request_per_ticker(db_path: Path) -> None:
    server = Wire()
    tickers = ["TCS.NS", "INFY.NS", "SBIN.NS"]
    try:
        cold = harness("analyze", *FAST, *tickers, config={"wire": server.url})
        assert cold.returncode == 0, cold.stderr
        cold_requests = len(server.requests)
        server.reset()
        with sqlite3.connect(db_path) as conn:  # the fetch was three days ago
            conn.execute("UPDATE price_fetches SET fetched_at = datetime(fetched_at, '-3 days')")
        again = harness("analyze", *FAST, *tickers, config={"wire": server.url})
        assert again.returncode == 0, again.stderr
        charts = server.charts()
        print(f"requests: cold {cold_requests} for 3 tickers, next day {len(server.requests)}")
        # one `start=` request per ticker. yfinance sometimes adds a timezone probe (range=1d)
        # per ticker, its own timezone cache having missed the first process's answers (seen
        # in 2 runs of about 6 under load; the cause, inside yfinance's cache, is not known)
        bars = [q for q in charts if "period1" in q]
        probes = [q for q in charts if "period1" not in q]
        assert len(bars) == 3, charts
        assert all(q.get("range") == ["1d"] for q in probes), charts
        # beside them only the crumb (once per process); the cookie is in yfinance's cache
        assert len(server.requests) == 4 + len(probes), server.requests
    finally:
        server.close()


def test_the_stand_in_allows_no_lookup_and_no_other_address(wire: Wire) -> None:
    import socket

    from curl_cffi import requests as curl

    from tests.wire.yahoo import CRUMB, WireViolation

    session = curl.Session(impersonate="chrome")  # what yfinance makes by default
    answer = session.get("https://query1.finance.yahoo.com/v1/test/getcrumb")
    assert answer.text == CRUMB and answer.primary_ip == "127.0.0.1"
    with pytest.raises(WireViolation):
        session.get("https://example.com/")
    with pytest.raises(WireViolation):
        socket.getaddrinfo("query2.finance.yahoo.com", 443)


def test_waiting_for_the_budget_is_not_taken_for_a_dead_network(
    conn: sqlite3.Connection, wire: Wire
) -> None:
    """Each history() call has ``timeout_s`` for Yahoo's answers; the time its requests queue
    for the rate budget (many workers, a low --max-rps) is not Yahoo being slow."""
    tickers = ["TCS.NS", "INFY.NS", "SBIN.NS", "ITC.NS"]
    src = YahooSource(
        cache=PriceCache(conn), now=lambda: ist(FRIDAY, 18), max_requests_per_s=2.0,
        workers=4, timeout_s=1.0,
    )  # fmt: skip
    src.prefetch(tickers)
    try:
        for ticker in tickers:
            assert str(src.fetch(ticker).bars.dates[-1]) == FRIDAY.isoformat()
    finally:
        src.close()
    assert src.calls == len(tickers)  # none retried
