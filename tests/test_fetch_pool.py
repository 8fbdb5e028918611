"""The yahoo source's fetch-ahead pool and request-rate budget (``stockscan.sources.pool``): the
pool's own guarantees, then the real job loop and Yahoo source over a fake yfinance in-process.
Ctrl-C, SIGTERM and the breaker with hung or failing requests are in
``tests/reliability/test_fetch_pool.py``, through real processes."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from stockscan import jobs, store
from stockscan.db import Connection
from stockscan.errors import SourceUnavailable, UsageError
from stockscan.sources import Tuning, get_source
from stockscan.sources.cache import PriceCache
from stockscan.sources.pool import FetchAhead, RateBudget
from stockscan.sources.yahoo import DEFAULT_MAX_RPS, DEFAULT_WORKERS, YahooSource
from tests.conftest import oracle
from tests.fakes import FakeMarket, market_frame
from tests.test_cache import FRIDAY, MONDAY, ist

TICKERS = tuple(f"P{i:02d}.NS" for i in range(12))

# --- the rate budget ----------------------------------------------------------------------------


def test_budget_spaces_request_starts_across_threads() -> None:
    budget = RateBudget(4.0, monotonic=lambda: 100.0)  # a clock that stands still
    waits: list[float] = []
    lock = threading.Lock()

    def sleep(seconds: float) -> None:
        with lock:
            waits.append(seconds)

    threads = [threading.Thread(target=budget.acquire, args=(sleep,)) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One request now, then one every 0.25 s, whichever thread gets which slot.
    assert sorted(waits) == pytest.approx([0.25 * k for k in range(1, 8)])


def test_a_rate_limit_pauses_everyone_then_halves_the_rate() -> None:
    clock = {"t": 0.0}
    budget = RateBudget(2.0, monotonic=lambda: clock["t"])
    waits: list[float] = []
    budget.acquire(waits.append)
    budget.back_off(3.0, min_interval_s=1.0)
    assert budget.interval_s == 1.0  # was 0.5
    budget.acquire(waits.append)
    budget.acquire(waits.append)
    assert waits == [3.0, 4.0]
    unlimited = RateBudget(None, monotonic=lambda: clock["t"])
    unlimited.back_off(0.0, min_interval_s=0.25)
    assert unlimited.interval_s == 0.25  # no limit until told otherwise


def test_the_interval_doubling_stops_at_its_cap_however_many_429s() -> None:
    budget = RateBudget(2.0, monotonic=lambda: 0.0, max_interval_s=4.0)
    for _ in range(50):  # every 429 on every thread of a long run
        budget.back_off(0.0, min_interval_s=1.0)
    assert budget.interval_s == 4.0  # not 2 ** 50 s


# --- the pool -----------------------------------------------------------------------------------


class Downloads:
    """Downloads that record how many run at once and can be held until released."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.running = 0
        self.most = 0
        self.planned: list[str] = []
        self.release = threading.Event()
        self.release.set()
        self.lock = threading.Lock()

    def plan(self, ticker: str) -> tuple[str, object]:
        self.planned.append(ticker)
        if ticker.startswith("CACHED"):
            return ticker, None
        return ticker, lambda: self.download(ticker)

    def download(self, ticker: str) -> str:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
        time.sleep(self.seconds)
        self.release.wait()
        with self.lock:
            self.running -= 1
        return f"bars of {ticker}"


def test_pool_hands_back_every_download_in_order_at_most_workers_at_once() -> None:
    downloads = Downloads(seconds=0.05)
    order = [f"T{i}" for i in range(24)]
    pool: FetchAhead[str, str] = FetchAhead(order, downloads.plan, workers=3)  # type: ignore[arg-type]
    try:
        assert downloads.planned == order[:6]  # two per worker planned ahead, no more
        got = []
        for ticker in order:
            taken = pool.take(ticker)
            assert taken is not None
            plan, future = taken
            assert plan == ticker and future is not None
            got.append(FetchAhead.result(future))
    finally:
        pool.close()
    assert got == [f"bars of {t}" for t in order]
    assert downloads.most == 3
    assert downloads.planned == order


def test_pool_plans_cached_tickers_without_a_download_and_drops_passed_over_ones() -> None:
    downloads = Downloads()
    order = ["A", "CACHED-B", "C", "D", "E"]
    pool: FetchAhead[str, str] = FetchAhead(order, downloads.plan, workers=1)  # type: ignore[arg-type]
    try:
        taken = pool.take("CACHED-B")  # A was given up by the job loop: passed over
        assert taken == ("CACHED-B", None)
        taken = pool.take("E")  # C and D too
        assert taken is not None and taken[1] is not None
        assert FetchAhead.result(taken[1]) == "bars of E"
        assert pool.take("A") is None  # passed over: the caller fetches it itself
        assert pool.take("NOT-IN-ORDER") is None
    finally:
        pool.close()


def test_a_download_that_raises_timeout_error_is_not_taken_for_a_wait() -> None:
    def plan(ticker: str) -> tuple[str, object]:
        def download() -> str:
            raise TimeoutError("read timed out")

        return ticker, download

    pool: FetchAhead[str, str] = FetchAhead(["A"], plan, workers=1)  # type: ignore[arg-type]
    try:
        taken = pool.take("A")
        assert taken is not None and taken[1] is not None
        with pytest.raises(TimeoutError, match="read timed out"):
            FetchAhead.result(taken[1])
    finally:
        pool.close()


def test_a_plan_that_fails_at_the_start_leaves_no_worker_behind() -> None:
    def plan(ticker: str) -> tuple[str, object]:
        raise sqlite3.OperationalError("disk I/O error")

    before = {t for t in threading.enumerate() if t.name.startswith("stockscan-fetch-")}
    with pytest.raises(sqlite3.OperationalError):
        FetchAhead(["A", "B"], plan, workers=3)  # type: ignore[arg-type]
    for thread in threading.enumerate():
        if thread.name.startswith("stockscan-fetch-") and thread not in before:
            thread.join(timeout=5)
            assert not thread.is_alive()


def test_close_stops_the_pool_without_waiting_for_hung_downloads() -> None:
    downloads = Downloads()
    downloads.release.clear()  # every download hangs
    order = [f"T{i}" for i in range(10)]
    pool: FetchAhead[str, str] = FetchAhead(order, downloads.plan, workers=2)  # type: ignore[arg-type]
    taken = pool.take("T5")
    assert taken is not None and taken[1] is not None
    queued = taken[1]
    deadline = time.monotonic() + 5
    while downloads.running < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    planned = list(downloads.planned)
    started = time.monotonic()
    pool.close()
    assert time.monotonic() - started < 0.1
    assert queued.cancelled() or queued.running()
    downloads.release.set()
    for thread in threading.enumerate():
        if thread.name.startswith("stockscan-fetch-"):
            thread.join(timeout=5)
            assert not thread.is_alive()
    assert downloads.planned == planned  # nothing was planned after close
    assert downloads.running == 0


# --- the yahoo source and the job loop over a fake yfinance --------------------------------------


@pytest.fixture
def slow_market(monkeypatch: pytest.MonkeyPatch) -> FakeMarket:
    import yfinance

    fake = FakeMarket(latency_s=0.03)
    for i, ticker in enumerate(TICKERS):
        fake.frames[ticker] = market_frame(FRIDAY, scale=1 + i / 10)
    monkeypatch.setattr(yfinance, "Ticker", fake)
    return fake


def scan(
    conn: Connection, now: dt.datetime, *, workers: int, **options: object
) -> tuple[YahooSource, jobs.JobOutcome]:
    source = YahooSource(
        cache=PriceCache(conn), now=lambda: now, sleep=lambda s: None, workers=workers,
        backoff_s=0.001, **options,  # type: ignore[arg-type]
    )  # fmt: skip
    request = jobs.JobRequest(tickers=TICKERS, source="yahoo")
    return source, jobs.run(conn, request, jobs.SilentReporter(), source=source)


def results(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT ticker, analysis_date, score, verdict, entry, stop, target FROM analysis_results"
        " ORDER BY ticker"
    ).fetchall()


def test_pool_gives_the_results_of_one_request_at_a_time(
    conn: sqlite3.Connection, db_path: Path, slow_market: FakeMarket, tmp_path: Path
) -> None:
    from stockscan import store

    source, outcome = scan(conn, ist(FRIDAY, 18), workers=4)
    assert outcome.exit_code == 0 and outcome.job["succeeded"] == len(TICKERS)
    assert source.calls == len(TICKERS) and slow_market.most == 4
    # The job's stocks are recorded in the requested order, whatever order downloads finished.
    assert [s["ticker"] for s in outcome.stocks] == list(TICKERS)
    other_db = tmp_path / "one-at-a-time.db"
    other = store.open(other_db)
    try:
        slow_market.most = 0
        _, alone = scan(other, ist(FRIDAY, 18), workers=1)
        assert alone.exit_code == 0 and slow_market.most == 1
        assert results(other) == results(conn)
    finally:
        other.close()
    oracle(db_path)


def test_pool_next_day_is_one_small_request_per_ticker_and_same_day_none(
    conn: sqlite3.Connection, slow_market: FakeMarket
) -> None:
    scan(conn, ist(FRIDAY, 18), workers=4)
    slow_market.calls.clear()
    again, _ = scan(conn, ist(FRIDAY, 20), workers=4)
    assert again.calls == 0 and slow_market.calls == []
    for i, ticker in enumerate(TICKERS):
        slow_market.frames[ticker] = market_frame(MONDAY, scale=1 + i / 10)
    monday, outcome = scan(conn, ist(MONDAY, 18), workers=4)
    assert outcome.exit_code == 0 and monday.calls == len(TICKERS)
    assert all("start" in call for call in slow_market.calls)
    assert {r[1] for r in results(conn)} == {FRIDAY, MONDAY}


def test_pool_split_in_one_ticker_refetches_only_its_history(
    conn: sqlite3.Connection, slow_market: FakeMarket
) -> None:
    scan(conn, ist(FRIDAY, 18), workers=4)
    for i, ticker in enumerate(TICKERS):
        slow_market.frames[ticker] = market_frame(MONDAY, scale=1 + i / 10)
    slow_market.frames[TICKERS[5]] = market_frame(MONDAY, scale=(1 + 5 / 10) / 2)  # 2:1 split
    slow_market.calls.clear()
    monday, outcome = scan(conn, ist(MONDAY, 18), workers=4)
    assert outcome.exit_code == 0 and monday.calls == len(TICKERS) + 1
    whole = [c["ticker"] for c in slow_market.calls if "period" in c]
    assert whole == [TICKERS[5]]
    bars = PriceCache(conn).bars("yahoo", TICKERS[5], True)
    assert bars is not None and bars.close[0] == pytest.approx(
        market_frame(MONDAY)["Close"].iloc[0] * 0.75
    )


def test_pool_network_down_trips_the_breaker_and_stops_the_workers(
    conn: sqlite3.Connection, db_path: Path, slow_market: FakeMarket
) -> None:
    slow_market.errors = [OSError("Could not resolve host") for _ in range(1000)]
    with pytest.raises(SourceUnavailable, match="network looks down"):
        scan(conn, ist(FRIDAY, 18), workers=4)
    job = store.get_job(conn, 1)
    assert job is not None and job["status"] == "interrupted"
    stocks = store.job_stocks(conn, 1)
    assert {s["status"] for s in stocks} == {"pending"}  # a network failure is no stock's
    at_stop = len(slow_market.calls)
    time.sleep(0.3)
    issued = len(slow_market.calls)
    assert issued - at_stop <= 4  # at most the requests in flight finished, one per worker
    time.sleep(0.3)
    assert len(slow_market.calls) == issued  # and then nothing: the workers stopped
    oracle(db_path)


def test_pool_rate_limit_outlasting_retries_stops_the_run_resumable(
    conn: sqlite3.Connection, db_path: Path, slow_market: FakeMarket
) -> None:
    from yfinance.exceptions import YFRateLimitError

    slow_market.errors = [YFRateLimitError() for _ in range(1000)]
    with pytest.raises(SourceUnavailable, match="rate-limiting"):
        scan(conn, ist(FRIDAY, 18), workers=4, max_requests_per_s=1000.0)
    assert {s["status"] for s in store.job_stocks(conn, 1)} == {"pending"}
    slow_market.errors.clear()
    source = YahooSource(cache=PriceCache(conn), now=lambda: ist(FRIDAY, 18), workers=4)
    outcome = jobs.resume(conn, 1, jobs.SilentReporter(), source=source)
    assert outcome.exit_code == 0 and outcome.job["succeeded"] == len(TICKERS)
    oracle(db_path)


# --- the options --------------------------------------------------------------------------------


def test_defaults_and_options_reach_the_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STOCKSCAN_YAHOO_MAX_RPS", raising=False)
    source = get_source("yahoo")
    assert isinstance(source, YahooSource)
    assert source.workers == DEFAULT_WORKERS and source.min_interval_s == 1 / DEFAULT_MAX_RPS
    monkeypatch.setenv("STOCKSCAN_YAHOO_MAX_RPS", "4")
    tuned = get_source("yahoo", keep_partial=True, tuning=Tuning(max_rps=8, workers=2))
    assert isinstance(tuned, YahooSource)
    assert tuned.min_interval_s == 1 / 8 and tuned.workers == 2 and tuned.keep_partial


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--fetch-workers", "0"], "--fetch-workers 0: must be from 1 to 16"),
        (["--fetch-workers", "17"], "--fetch-workers 17: must be from 1 to 16"),
        (["--max-rps", "0"], "--max-rps 0: must be a positive number"),
        (["--source", "demo", "--keep-partial"], "--keep-partial: only for --source yahoo"),
        (["--source", "demo", "--max-rps", "3"], "--max-rps: only for --source yahoo"),
    ],
)
def test_bad_fetch_options_exit_2_and_write_nothing(
    db_path: Path, args: list[str], message: str
) -> None:
    from tests.conftest import run_cli

    result = run_cli("analyze", "TCS.NS", *args)
    assert result.returncode == 2 and message in result.stderr
    assert not db_path.exists()


def test_keep_partial_is_part_of_the_job_and_survives_resume() -> None:
    plain = jobs.JobRequest(tickers=("A.NS",), source="yahoo")
    partial = jobs.JobRequest(tickers=("A.NS",), source="yahoo", keep_partial=True)
    assert "keep_partial" not in plain.params()  # the keys of earlier jobs are unchanged
    assert partial.params()["keep_partial"] is True
    assert plain.key("2026-11-27", "1") != partial.key("2026-11-27", "1")
    with pytest.raises(UsageError):
        get_source("csv", Path("."), keep_partial=True)
