"""The price cache under the Yahoo source, with yfinance replaced at its boundary by a fake
market that answers ``history(period=…)`` and ``history(start=…)`` with frames shaped like the
real ones (tz-aware Asia/Kolkata index, plain columns, Dividends and Stock Splits)."""

from __future__ import annotations

import datetime as dt
import os
import socket
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from stockscan import jobs, store
from stockscan.db import Connection
from stockscan.errors import SourceUnavailable, StockError
from stockscan.sources import get_source
from stockscan.sources.cache import PriceCache, next_final_bar
from stockscan.sources.demo import demo_bars
from stockscan.sources.yahoo import BAR_FINAL_AFTER, YahooSource
from tests.fakes import FakeMarket, market_frame

IST = "Asia/Kolkata"
FRIDAY = "2026-11-27"
MONDAY = "2026-11-30"
# Captured before the autouse fixture blocks the network, for the one test allowed to use it.
REAL_CONNECT = socket.socket.connect
REAL_PROXIES = {k: v for k, v in os.environ.items() if k.lower().endswith("_proxy")}


def ist(day: str, hh: int, mm: int = 0) -> dt.datetime:
    """``day`` at hh:mm in India, as the aware UTC time the source's clock returns."""
    local = dt.datetime.fromisoformat(f"{day}T{hh:02d}:{mm:02d}").replace(
        tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=30))
    )
    return local.astimezone(dt.UTC)


@pytest.fixture
def market(monkeypatch: pytest.MonkeyPatch) -> FakeMarket:
    import yfinance

    fake = FakeMarket()
    monkeypatch.setattr(yfinance, "Ticker", fake)
    return fake


def yahoo(conn: sqlite3.Connection, now: dt.datetime, **options: object) -> YahooSource:
    return YahooSource(
        cache=PriceCache(conn),
        sleep=lambda s: None,
        now=lambda: now,
        **options,  # type: ignore[arg-type]
    )


def cached_dates(conn: sqlite3.Connection, ticker: str) -> list[str]:
    return [row[0] for row in store.price_bars(conn, "yahoo", ticker, True)]


# --- the cache paths -------------------------------------------------------------------------


def test_cold_fetch_is_one_request_and_fills_the_cache(
    conn: sqlite3.Connection, market: FakeMarket
) -> None:
    market.frames["TCS.NS"] = market_frame(FRIDAY)
    source = yahoo(conn, ist(FRIDAY, 18))
    bars = source.fetch("TCS.NS").bars
    assert source.calls == 1 and market.calls[0]["period"] == "2y"
    assert str(bars.dates[-1]) == FRIDAY and bars.last_bar_complete
    assert cached_dates(conn, "TCS.NS")[-1] == FRIDAY
    assert len(cached_dates(conn, "TCS.NS")) == len(bars)
    assert store.price_cache_size(conn) == {"bars": len(bars), "tickers": 1}
    fetch = store.price_fetch(conn, "yahoo", "TCS.NS", True)
    assert fetch is not None and fetch["exchange_tz"] == IST
    assert fetch["source_version"].startswith("yfinance ")


@pytest.mark.parametrize(
    "later",
    [ist(FRIDAY, 18, 30), ist("2026-11-28", 10), ist(MONDAY, 9), ist(MONDAY, 16, 59)],
    ids=["same-evening", "saturday", "monday-pre-open", "monday-before-final"],
)
def test_rerun_before_a_new_bar_can_exist_needs_no_network(
    conn: sqlite3.Connection, market: FakeMarket, later: dt.datetime
) -> None:
    market.frames["TCS.NS"] = market_frame(FRIDAY)
    first = yahoo(conn, ist(FRIDAY, 18)).fetch("TCS.NS").bars
    market.calls.clear()
    source = yahoo(conn, later)
    again, provenance = source.fetch("TCS.NS")
    assert market.calls == [] and source.calls == 0
    assert np.array_equal(again.dates, first.dates) and np.array_equal(again.close, first.close)
    assert provenance.from_cache
    assert provenance.fetched_at == ist(FRIDAY, 18).isoformat(timespec="seconds")


def test_next_day_is_one_small_request_with_overlap(
    conn: sqlite3.Connection, market: FakeMarket
) -> None:
    market.frames["TCS.NS"] = market_frame(FRIDAY)
    yahoo(conn, ist(FRIDAY, 18)).fetch("TCS.NS")
    market.calls.clear()
    market.frames["TCS.NS"] = market_frame(MONDAY)
    source = yahoo(conn, ist(MONDAY, 18))
    bars = source.fetch("TCS.NS").bars
    assert source.calls == 1
    assert market.calls[0]["start"] == "2026-11-20" and "period" not in market.calls[0]
    assert str(bars.dates[-1]) == MONDAY
    full = market_frame(MONDAY)
    assert np.allclose(bars.close, full["Close"].to_numpy()[-len(bars) :])
    assert cached_dates(conn, "TCS.NS")[-2:] == [FRIDAY, MONDAY]


def test_split_that_changes_history_refetches_everything(
    conn: sqlite3.Connection, market: FakeMarket
) -> None:
    market.frames["TCS.NS"] = market_frame(FRIDAY)
    yahoo(conn, ist(FRIDAY, 18)).fetch("TCS.NS")
    market.calls.clear()
    market.frames["TCS.NS"] = market_frame(MONDAY, scale=0.5)  # a 2:1 split, re-adjusted
    source = yahoo(conn, ist(MONDAY, 18))
    bars = source.fetch("TCS.NS").bars
    assert [("start" in c, "period" in c) for c in market.calls] == [(True, False), (False, True)]
    assert np.allclose(bars.close, market.frames["TCS.NS"]["Close"].to_numpy())
    cached = store.price_bars(conn, "yahoo", "TCS.NS", True)
    assert np.allclose([row[4] for row in cached], market.frames["TCS.NS"]["Close"].to_numpy())


def test_a_tiny_float_difference_is_not_a_split(
    conn: sqlite3.Connection, market: FakeMarket
) -> None:
    market.frames["TCS.NS"] = market_frame(FRIDAY)
    yahoo(conn, ist(FRIDAY, 18)).fetch("TCS.NS")
    market.calls.clear()
    market.frames["TCS.NS"] = market_frame(MONDAY, scale=1 + 1e-9)
    yahoo(conn, ist(MONDAY, 18)).fetch("TCS.NS")
    assert len(market.calls) == 1


def test_nan_pre_open_row_is_never_cached(conn: sqlite3.Connection, market: FakeMarket) -> None:
    frame = market_frame("2026-12-01")  # Tuesday's row exists before the open, all NaN
    frame.iloc[-1, frame.columns.get_loc("Close")] = np.nan
    frame.iloc[-1, frame.columns.get_loc("Open")] = np.nan
    market.frames["TCS.NS"] = frame
    bars = yahoo(conn, ist("2026-12-01", 9)).fetch("TCS.NS").bars
    assert str(bars.dates[-1]) == MONDAY
    assert cached_dates(conn, "TCS.NS")[-1] == MONDAY
    assert not any(np.isnan(row[4]) for row in store.price_bars(conn, "yahoo", "TCS.NS", True))


def test_a_partial_bar_is_analysed_when_asked_but_never_cached(
    conn: sqlite3.Connection, market: FakeMarket
) -> None:
    market.frames["TCS.NS"] = market_frame(MONDAY)
    source = yahoo(conn, ist(MONDAY, 11), keep_partial=True)
    bars = source.fetch("TCS.NS").bars
    assert str(bars.dates[-1]) == MONDAY and not bars.last_bar_complete
    assert cached_dates(conn, "TCS.NS")[-1] == FRIDAY
    # While the market may be open, a keep_partial re-run asks again for the moving bar.
    market.calls.clear()
    again = yahoo(conn, ist(MONDAY, 12), keep_partial=True).fetch("TCS.NS").bars
    assert len(market.calls) == 1 and "start" in market.calls[0]
    assert str(again.dates[-1]) == MONDAY and not again.last_bar_complete


def test_empty_frame_is_no_data_and_caches_nothing(
    conn: sqlite3.Connection, market: FakeMarket
) -> None:
    with pytest.raises(StockError) as info:
        yahoo(conn, ist(FRIDAY, 18)).fetch("GONE.NS")
    assert info.value.kind == "no_data"
    assert store.price_cache_size(conn) == {"bars": 0, "tickers": 0}


def test_rate_limit_stops_the_run_and_leaves_the_cache_alone(
    conn: sqlite3.Connection, market: FakeMarket
) -> None:
    from yfinance.exceptions import YFRateLimitError

    market.frames["TCS.NS"] = market_frame(FRIDAY)
    yahoo(conn, ist(FRIDAY, 18)).fetch("TCS.NS")
    before = store.price_bars(conn, "yahoo", "TCS.NS", True)
    market.frames["TCS.NS"] = market_frame(MONDAY)
    market.errors = [YFRateLimitError() for _ in range(4)]
    with pytest.raises(SourceUnavailable, match="rate-limiting"):
        yahoo(conn, ist(MONDAY, 18)).fetch("TCS.NS")
    assert store.price_bars(conn, "yahoo", "TCS.NS", True) == before


def dns_error() -> BaseException:
    try:
        from curl_cffi.requests.exceptions import DNSError
    except ImportError:  # pragma: no cover - curl_cffi comes with yfinance
        return OSError("Could not resolve host: query1.finance.yahoo.com")
    return DNSError("Failed to perform, curl: (6) Could not resolve host: query2.finance.yahoo.com")


def test_dns_failure_is_network_and_stops_the_run(
    conn: sqlite3.Connection, market: FakeMarket
) -> None:
    source = yahoo(conn, ist(FRIDAY, 18), retries=1)
    market.errors = [dns_error() for _ in range(4)]
    with pytest.raises(SourceUnavailable, match="network looks down") as stopped:
        source.fetch("A.NS")
    assert "resolve host" in str(stopped.value)
    assert store.price_cache_size(conn) == {"bars": 0, "tickers": 0}


def test_auto_adjust_choices_are_cached_apart(conn: sqlite3.Connection, market: FakeMarket) -> None:
    market.frames["TCS.NS"] = market_frame(FRIDAY)
    yahoo(conn, ist(FRIDAY, 18)).fetch("TCS.NS")
    source = yahoo(conn, ist(FRIDAY, 19), auto_adjust=False)
    source.fetch("TCS.NS")
    assert source.calls == 1 and market.calls[-1]["auto_adjust"] is False
    assert store.price_cache_size(conn)["tickers"] == 2


def test_next_final_bar_skips_the_weekend() -> None:
    friday_evening = ist(FRIDAY, 18)
    assert next_final_bar(friday_evening, IST, BAR_FINAL_AFTER) == ist(MONDAY, 17)
    assert next_final_bar(ist(FRIDAY, 10), IST, BAR_FINAL_AFTER) == ist(FRIDAY, 17)
    assert next_final_bar(friday_evening, None, BAR_FINAL_AFTER).tzinfo is dt.UTC


# --- through the job loop: provenance and sources that never mix ----------------------------


def run_job(conn: Connection, ticker: str, source_name: str, source: object) -> jobs.JobOutcome:
    request = jobs.JobRequest(tickers=(ticker,), source=source_name)  # type: ignore[arg-type]
    return jobs.run(conn, request, jobs.SilentReporter(), source=source)  # type: ignore[arg-type]


def test_provenance_is_stored_with_the_result(conn: sqlite3.Connection, market: FakeMarket) -> None:
    market.frames["TCS.NS"] = market_frame(FRIDAY)
    outcome = run_job(conn, "TCS.NS", "yahoo", yahoo(conn, ist(FRIDAY, 18)))
    assert outcome.exit_code == 0
    row = store.find_result(conn, "TCS.NS")
    assert row is not None
    assert row["fetched_at"] == ist(FRIDAY, 18).isoformat(timespec="seconds")
    assert row["source_version"].startswith("yfinance ") and row["auto_adjust"] == 1
    assert row["analysis_date"] == FRIDAY and row["status"] == "complete"
    # A re-run from the cache keeps the time the bars were really fetched.
    run_job(conn, "TCS.NS", "yahoo", yahoo(conn, ist(FRIDAY, 21)))
    assert len(market.calls) == 1
    again = store.find_result(conn, "TCS.NS")
    assert again is not None and again["fetched_at"] == row["fetched_at"]

    from stockscan.render import result_document

    provenance = result_document(again)["provenance"]
    assert provenance["auto_adjust"] is True and provenance["fetched_at"] == row["fetched_at"]


def test_results_show_prints_provenance(
    conn: sqlite3.Connection, db_path: Path, market: FakeMarket
) -> None:
    from tests.conftest import run_cli

    market.frames["TCS.NS"] = market_frame(FRIDAY)
    run_job(conn, "TCS.NS", "yahoo", yahoo(conn, ist(FRIDAY, 18)))
    shown = run_cli("results", "show", "TCS.NS", "--db", str(db_path), env={"TZ": "Asia/Kolkata"})
    assert shown.returncode == 0, shown.stderr
    assert "fetched      2026-11-27 18:00:00 IST by yfinance " in shown.stdout  # local time
    assert "auto_adjust=True" in shown.stdout
    info = run_cli("db", "info", "--db", str(db_path))
    assert "price cache" in info.stdout and "of 1 tickers" in info.stdout


def test_demo_csv_and_yahoo_never_mix(
    conn: sqlite3.Connection, market: FakeMarket, tmp_path: Path
) -> None:
    """Each result's source is the source whose bars it was computed from, and only Yahoo's
    bars enter the cache."""
    friday = np.datetime64(FRIDAY, "D")
    demo = get_source("demo", cache=PriceCache(conn))
    data_dir = tmp_path / "csv"
    data_dir.mkdir()
    csv_bars = demo_bars("SEED.NS", friday)  # other prices than the demo's for these tickers
    lines = ["Date,Open,High,Low,Close,Volume"] + [
        f"{d},{o},{h},{lo},{c},{v}"
        for d, o, h, lo, c, v in zip(
            csv_bars.dates,
            csv_bars.open,
            csv_bars.high,
            csv_bars.low,
            csv_bars.close,
            csv_bars.volume,
            strict=True,
        )  # fmt: skip
    ]
    (data_dir / "BBB.NS.csv").write_text("\n".join(lines) + "\n")
    csv = get_source("csv", data_dir, cache=PriceCache(conn))
    market.frames["CCC.NS"] = market_frame(FRIDAY)
    market.frames["AAA.NS"] = market_frame(FRIDAY, scale=3.0)
    expected = {
        "AAA.NS": ("demo", demo_bars("AAA.NS", friday).close[-1]),
        "BBB.NS": ("csv", csv_bars.close[-1]),
        "CCC.NS": ("yahoo", market_frame(FRIDAY)["Close"].iloc[-1]),
    }
    if str(demo.fetch("AAA.NS").bars.dates[-1]) != FRIDAY:
        pytest.skip("the demo's last weekday is not the fake market's Friday")
    run_job(conn, "AAA.NS", "demo", demo)
    run_job(conn, "BBB.NS", "csv", csv)
    run_job(conn, "CCC.NS", "yahoo", yahoo(conn, ist(FRIDAY, 18)))
    for ticker, (source_name, close) in expected.items():
        row = store.find_result(conn, ticker)
        assert row is not None and row["analysis_source"] == source_name
        assert row["close"] == pytest.approx(close), ticker
    assert demo.fetch("AAA.NS").provenance.source_version is None
    assert {(r[0], r[1]) for r in conn.execute("SELECT source, ticker FROM price_bars")} == {
        ("yahoo", "CCC.NS")
    }
    # Real data replaces demo data for the same date, with Yahoo's prices; demo never goes back.
    run_job(conn, "AAA.NS", "yahoo", yahoo(conn, ist(FRIDAY, 18)))
    row = store.find_result(conn, "AAA.NS")
    assert row is not None and row["analysis_source"] == "yahoo"
    assert row["close"] == pytest.approx(market.frames["AAA.NS"]["Close"].iloc[-1])
    assert run_job(conn, "AAA.NS", "demo", demo).stocks[0]["status"] == "skipped"
    row = store.find_result(conn, "AAA.NS")
    assert row is not None and row["analysis_source"] == "yahoo"


# --- the real Yahoo ----------------------------------------------------------------------------


@pytest.mark.network
@pytest.mark.skipif(
    os.environ.get("STOCKSCAN_NETWORK_TESTS") != "1",
    reason="talks to Yahoo: set STOCKSCAN_NETWORK_TESTS=1 to run",
)
def test_real_yahoo_then_the_cache(
    conn: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(socket.socket, "connect", REAL_CONNECT)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        if var in REAL_PROXIES:
            monkeypatch.setenv(var, REAL_PROXIES[var])
        else:
            monkeypatch.delenv(var, raising=False)
    source = YahooSource(cache=PriceCache(conn), retries=1)
    bars = source.fetch("TCS.NS").bars
    assert len(bars) > 200 and source.calls >= 1
    again = YahooSource(cache=PriceCache(conn))
    assert np.array_equal(again.fetch("TCS.NS").bars.close[:-5], bars.close[:-5])
    assert again.calls <= 1


# --- the request-rate budget -------------------------------------------------------------------


# The budget paces the real HTTP requests, in our curl_cffi session beneath yfinance: a fake
# yfinance sends none, so pacing is tested at the wire (tests/wire/test_wire.py).


def test_rate_budget_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from stockscan.errors import UsageError

    monkeypatch.setenv("STOCKSCAN_YAHOO_MAX_RPS", "4")
    source = get_source("yahoo")
    assert isinstance(source, YahooSource) and source.min_interval_s == 0.25
    monkeypatch.setenv("STOCKSCAN_YAHOO_MAX_RPS", "fast")
    with pytest.raises(UsageError, match="STOCKSCAN_YAHOO_MAX_RPS"):
        get_source("yahoo")


def test_a_failed_cache_write_leaves_bars_and_fetch_record_together(
    conn: sqlite3.Connection, market: FakeMarket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bars and the record of their fetch commit in one transaction: a failure (or a kill)
    part-way leaves neither, so the next run fetches again instead of trusting half a cache."""
    market.frames["TCS.NS"] = market_frame(FRIDAY)
    real_merge = store.merge_price_bars

    def merge_then_fail(*args: object, **kwargs: object) -> None:
        real_merge(*args, **kwargs)  # type: ignore[arg-type]
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "merge_price_bars", merge_then_fail)
    with pytest.raises(KeyboardInterrupt):
        yahoo(conn, ist(FRIDAY, 18)).fetch("TCS.NS")
    assert store.price_cache_size(conn) == {"bars": 0, "tickers": 0}
    assert not conn.in_transaction
    monkeypatch.setattr(store, "merge_price_bars", real_merge)
    source = yahoo(conn, ist(FRIDAY, 18))
    source.fetch("TCS.NS")
    assert source.calls == 1 and store.price_cache_size(conn)["tickers"] == 1
