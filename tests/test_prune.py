"""Retention: `jobs prune`, `db prune --raw-older-than / --demo` and `db vacuum`. Each states
what it deletes and what cascades, does it in one transaction, and leaves the oracle clean."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from stockscan import jobs, retention, store
from stockscan.cli import app
from stockscan.db import Connection, transaction
from stockscan.errors import SourceUnavailable, UsageError
from stockscan.locks import JobLock, lock_dir
from tests.conftest import oracle, run_cli
from tests.fakes import FakeSource

runner = CliRunner()
DATES = ("2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27")
LATER = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def analyse(
    conn: Connection,
    day: str,
    *tickers: str,
    source: str = "csv",
    n: int = 0,
    failures: dict[str, BaseException] | None = None,
) -> jobs.JobOutcome:
    request = jobs.JobRequest(tickers=tickers, source=source, capital=100_000 + n)  # type: ignore[arg-type]
    fake = FakeSource(name=source, end=np.datetime64(day, "D"), failures=failures or {})
    return jobs.run(conn, request, jobs.SilentReporter(), source=fake)


def dump(conn: sqlite3.Connection) -> dict[str, list[tuple[object, ...]]]:
    return {
        table: conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
        for table in store.TABLES
    }


def count(conn: sqlite3.Connection, sql: str, *params: object) -> int:
    return int(conn.execute(sql, params).fetchone()[0])


@pytest.fixture
def filled(db_path: Path) -> Iterator[sqlite3.Connection]:
    """Followed tickers; five finished csv jobs; a finished demo job; an interrupted job."""
    conn = store.open(db_path)
    with transaction(conn):
        conn.executemany(
            "INSERT INTO watchlist (ticker, added_at) VALUES (?, ?)",
            [("TCS.NS", store.now_iso()), ("DEMO.NS", store.now_iso())],
        )
    for n, day in enumerate(DATES):
        analyse(conn, day, "TCS.NS", "INFY.NS", n=n)
    analyse(conn, DATES[-1], "DEMO.NS", "TCS.NS", source="demo", n=50)
    with pytest.raises(SourceUnavailable):
        analyse(conn, DATES[-1], "HDFC.NS", "DOWN.NS", n=60,
                failures={"DOWN.NS": SourceUnavailable("rate limited")})  # fmt: skip
    yield conn
    conn.close()


def job_ids(conn: sqlite3.Connection) -> dict[str, list[int]]:
    found: dict[str, list[int]] = {}
    for job_id, status in conn.execute("SELECT id, status FROM analysis_jobs ORDER BY id"):
        found.setdefault(status, []).append(job_id)
    return found


# --- jobs prune ----------------------------------------------------------------------------


def leave_old_lock_files(db_path: Path, job_ids: Iterable[int]) -> None:
    """The lock files versions before the OFD lock (stockscan.locks) kept, one per job; jobs
    no longer create them, and pruning a job removes its leftover file."""
    assert not lock_dir(db_path).exists()  # this version never creates one
    lock_dir(db_path).mkdir()
    for job_id in job_ids:
        (lock_dir(db_path) / f"job-{job_id}.lock").touch()


def test_jobs_prune_deletes_finished_jobs_and_keeps_their_results(
    filled: sqlite3.Connection, db_path: Path
) -> None:
    before = job_ids(filled)
    assert before == {"succeeded": [1, 2, 3, 4, 5, 6], "interrupted": [7]}
    results = dump(filled)["analysis_results"]
    leave_old_lock_files(db_path, range(1, 8))

    report = retention.prune_jobs(filled, older_than_days=30, now=LATER)

    assert report.job_ids == [1, 2, 3, 4, 5, 6]
    assert job_ids(filled) == {"interrupted": [7]}  # an active job is never pruned
    # what was reported is what happened
    assert report.details_deleted == 12 and report.lock_files_removed == 6
    assert count(filled, "SELECT count(*) FROM analysis_jobs_details") == 2  # job 7's
    assert report.results_unlinked == 11  # every result the jobs wrote (job 7 wrote HDFC.NS)
    after = dump(filled)["analysis_results"]
    assert [r[0] for r in after] == [r[0] for r in results]  # no result deleted
    assert count(filled, "SELECT count(*) FROM analysis_results WHERE job_id IS NULL") == 11
    assert report.watchlist_unlinked == 2
    assert count(filled, "SELECT count(*) FROM watchlist WHERE last_job_id IS NULL") == 2
    # the watchlist keeps its last good result
    assert count(filled, "SELECT count(*) FROM watchlist WHERE last_result_id IS NOT NULL") == 2
    assert sorted(p.name for p in lock_dir(db_path).iterdir()) == ["job-7.lock"]
    oracle(db_path)


def test_jobs_prune_respects_the_age(filled: sqlite3.Connection) -> None:
    report = retention.prune_jobs(filled, older_than_days=1)
    assert report.job_ids == [] and len(job_ids(filled)["succeeded"]) == 6
    with pytest.raises(UsageError, match="--older-than -1"):
        retention.prune_jobs(filled, older_than_days=-1)


def test_jobs_prune_dry_run_changes_nothing(filled: sqlite3.Connection, db_path: Path) -> None:
    before = dump(filled)
    leave_old_lock_files(db_path, range(1, 8))
    dry = retention.prune_jobs(filled, older_than_days=0, dry_run=True, now=LATER)
    assert dump(filled) == before and len(list(lock_dir(db_path).iterdir())) == 7
    real = retention.prune_jobs(filled, older_than_days=0, now=LATER)
    dry.dry_run = real.dry_run = False
    dry.lock_files_removed = real.lock_files_removed
    assert dry == real  # the dry run said exactly what the real run did


def test_jobs_prune_command(filled: sqlite3.Connection, db_path: Path) -> None:
    leave_old_lock_files(db_path, range(1, 8))
    code, out, err = invoke("jobs", "prune", "--older-than", "0", "--dry-run")
    assert code == 0, err
    assert out.startswith("Would delete 6 finished jobs (ids 1, 2, 3, 4, 5, 6)")
    assert "12 stock rows" in out and "11 results they wrote stay" in out
    assert "job_id set to NULL" in out and "Dry run: nothing was changed." in out
    assert len(job_ids(filled)["succeeded"]) == 6
    code, out, err = invoke("jobs", "prune", "--older-than", "0", "--json")
    document = json.loads(out)
    assert document["jobs_deleted"] == 6 and document["results_kept_with_job_id_null"] == 11
    assert document["lock_files_removed"] == 6 and document["dry_run"] is False
    code, out, _ = invoke("jobs", "prune", "--older-than", "0")
    assert code == 0 and "nothing to prune" in out
    oracle(db_path)


def test_jobs_prune_exit_codes(db_path: Path) -> None:
    assert run_cli("jobs", "prune", "--older-than", "5").returncode == 5  # no database
    assert not db_path.exists()
    run_cli("db", "migrate")
    missing = run_cli("jobs", "prune")
    assert missing.returncode == 2 and "--older-than" in missing.stderr
    negative = run_cli("jobs", "prune", "--older-than", "-3")
    assert negative.returncode == 2
    assert negative.stderr == "Error: --older-than -3: must be 0 or more days\n"


# --- db prune --raw-older-than -------------------------------------------------------------


def test_raw_prune_keeps_the_results_and_says_when(
    filled: sqlite3.Connection, db_path: Path
) -> None:
    results = dump(filled)["analysis_results"]
    report = retention.prune_db(filled, raw_older_than_days=2, today=dt.date(2026, 11, 27))
    # market dates before 2026-11-25: two dates of two tickers
    assert report.raw_before == "2026-11-25" and report.raw_results == 4
    assert report.raw_bytes > 4 * 2000
    assert dump(filled)["analysis_results"] == results
    pruned = [
        json.loads(payload)
        for (payload,) in filled.execute(
            "SELECT raw.payload FROM analysis_raw_data raw JOIN analysis_results r"
            " ON r.id = raw.result_id WHERE r.analysis_date < '2026-11-25'"
        )
    ]
    assert len(pruned) == 4 and all(list(p) == [store.RAW_PRUNED_KEY] for p in pruned)
    kept = filled.execute(
        "SELECT raw.payload FROM analysis_raw_data raw JOIN analysis_results r"
        " ON r.id = raw.result_id WHERE r.analysis_date >= '2026-11-25'"
    ).fetchall()
    assert kept and all("indicators" in json.loads(p) for (p,) in kept)
    oracle(db_path)  # every result still has its raw-data row

    code, out, _ = invoke("results", "show", "TCS.NS", "--date", "2026-11-24", "--json")
    document = json.loads(out)
    assert document["indicators"] is None and document["components"] is None
    assert document["provenance"]["raw_data"] == "pruned"
    assert document["provenance"]["raw_pruned_at"] is not None
    assert (
        document["score"]
        == filled.execute(
            "SELECT score FROM analysis_results WHERE ticker = 'TCS.NS' AND analysis_date = ?",
            ("2026-11-24",),
        ).fetchone()[0]
    )
    code, out, _ = invoke("results", "show", "TCS.NS", "--date", "2026-11-24")
    assert code == 0 and "raw data     pruned" in out

    again = retention.prune_db(filled, raw_older_than_days=2, today=dt.date(2026, 11, 27))
    assert again.raw_results == 0  # already pruned rows are not counted twice

    # re-analysing that ticker and date writes full raw data again
    analyse(filled, "2026-11-24", "TCS.NS", n=70)
    code, out, _ = invoke("results", "show", "TCS.NS", "--date", "2026-11-24", "--json")
    assert list(json.loads(out)["indicators"])[:2] == ["sma_20", "sma_50"]
    oracle(db_path)


def test_raw_prune_dry_run_and_command(filled: sqlite3.Connection, db_path: Path) -> None:
    before = dump(filled)
    code, out, err = invoke("db", "prune", "--raw-older-than", "0", "--dry-run")
    assert code == 0, err
    assert out.startswith("Would drop the raw data of ") and "the results stay" in out
    assert dump(filled) == before
    code, out, _ = invoke("db", "prune", "--raw-older-than", "0", "--json")
    document = json.loads(out)
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert document["raw"]["market_date_before"] == today
    expected = count(filled, "SELECT count(*) FROM analysis_results WHERE analysis_date < ?", today)
    assert document["raw"]["results_pruned"] == expected
    oracle(db_path)


# --- db prune --demo -----------------------------------------------------------------------


def finish_interrupted(conn: Connection) -> None:
    outcome = jobs.resume(conn, 7, jobs.SilentReporter(), source=FakeSource())
    assert outcome.job["status"] == "succeeded"


def test_demo_prune_deletes_every_demo_row_and_nothing_real(
    filled: sqlite3.Connection, db_path: Path
) -> None:
    demo_job = job_ids(filled)["succeeded"][-1]
    assert store.get_job(filled, demo_job)["source"] == "demo"  # type: ignore[index]
    finish_interrupted(filled)
    real = [r for r in dump(filled)["analysis_results"] if r[13] != "demo"]
    linked = filled.execute("SELECT last_result_id FROM watchlist WHERE ticker = 'DEMO.NS'")
    assert linked.fetchone()[0] is not None

    report = retention.prune_db(filled, demo=True)

    assert report.demo_results == 1 and report.demo_raw_bytes > 2000
    assert report.demo_jobs is not None and report.demo_jobs.job_ids == [demo_job]
    assert report.demo_jobs.details_deleted == 2  # DEMO.NS and the skipped TCS.NS
    assert report.demo_watchlist_unlinked == 1 and report.demo_details_unlinked == 0
    assert (
        count(filled, "SELECT count(*) FROM analysis_results WHERE analysis_source = 'demo'") == 0
    )
    assert count(filled, "SELECT count(*) FROM analysis_jobs WHERE source = 'demo'") == 0
    assert [r for r in dump(filled)["analysis_results"] if r[13] != "demo"] == real
    assert filled.execute(
        "SELECT last_result_id, last_job_id FROM watchlist WHERE ticker = 'DEMO.NS'"
    ).fetchone() == (None, None)
    assert not (lock_dir(db_path) / f"job-{demo_job}.lock").exists()
    oracle(db_path)


def test_demo_prune_waits_for_unfinished_demo_jobs(
    filled: sqlite3.Connection, db_path: Path
) -> None:
    with pytest.raises(SourceUnavailable):
        analyse(filled, DATES[-1], "D1.NS", "D2.NS", source="demo", n=80,
                failures={"D2.NS": SourceUnavailable("down")})  # fmt: skip
    before = dump(filled)
    code, _, err = invoke("db", "prune", "--demo")
    assert code == 2 and "demo job(s) 8 not finished" in err and "jobs resume" in err
    assert dump(filled) == before
    oracle(db_path)


def test_demo_prune_command(filled: sqlite3.Connection, db_path: Path) -> None:
    finish_interrupted(filled)
    code, out, err = invoke("db", "prune", "--demo", "--dry-run")
    assert code == 0, err
    assert out.startswith("Would delete 1 demo result with its raw data")
    assert "1 finished demo job (id 6) with its 2 stock rows" in out
    code, out, _ = invoke("results", "latest")
    assert "DEMO" in out
    code, out, _ = invoke("db", "prune", "--demo")
    assert code == 0 and out.startswith("Deleted 1 demo result")
    code, out, _ = invoke("results", "latest")
    assert "DEMO" not in out and "TCS.NS" in out
    oracle(db_path)


def test_db_prune_needs_something_to_prune(db_path: Path) -> None:
    run_cli("db", "migrate")
    result = run_cli("db", "prune")
    assert result.returncode == 2
    assert result.stderr == (
        "Error: nothing to prune: give --raw-older-than DAYS, --demo, --future-dated,"
        " --prices-unused-for DAYS and/or --prices-older-than DAYS\n"
    )


# --- db prune --prices-unused-for / --prices-older-than (the price cache) -------------------


def cache_prices(conn: sqlite3.Connection, ticker: str, fetched: dt.datetime) -> int:
    """Three years of weekday bars for ``ticker``, as fetched at ``fetched``; their count."""
    from stockscan.sources.cache import PriceCache
    from stockscan.sources.demo import demo_bars

    end = np.datetime64(fetched.date(), "D")
    bars = demo_bars(ticker, end, count=780)
    PriceCache(conn).save(
        "yahoo", ticker, True, bars, fetched_at=fetched, exchange_tz="Asia/Kolkata",
        source_version="yfinance 1.7.0", replace=True,
    )  # fmt: skip
    return len(bars)


NOW = dt.datetime(2026, 11, 27, 13, 0, tzinfo=dt.UTC)


def test_prices_unused_for_deletes_whole_series_of_tickers_no_longer_fetched(
    conn: sqlite3.Connection, db_path: Path
) -> None:
    kept = cache_prices(conn, "TCS.NS", NOW - dt.timedelta(days=1))
    gone = cache_prices(conn, "OLD.NS", NOW - dt.timedelta(days=45))
    before = dump(conn)
    dry = retention.prune_db(conn, prices_unused_days=30, dry_run=True, now=NOW)
    assert dump(conn) == before and store.price_cache_size(conn)["tickers"] == 2
    assert dry.as_json()["prices"] == {
        "unused_since": "2026-10-28T13:00:00+00:00", "series_deleted": 1,
        "series_bars_deleted": gone, "market_date_before": None, "old_bars_deleted": 0,
        "series_left_without_bars_deleted": 0,
    }  # fmt: skip
    real = retention.prune_db(conn, prices_unused_days=30, now=NOW)
    assert real.as_json()["prices"] == {**dry.as_json()["prices"]}
    assert store.price_cache_size(conn) == {"bars": kept, "tickers": 1}
    assert store.price_fetch(conn, "yahoo", "OLD.NS", True) is None
    assert store.price_bars(conn, "yahoo", "OLD.NS", True) == []
    oracle(db_path)


def test_prices_older_than_trims_bars_no_analysis_reads(
    conn: sqlite3.Connection, db_path: Path
) -> None:
    total = cache_prices(conn, "TCS.NS", NOW)
    report = retention.prune_db(conn, prices_older_than_days=800, now=NOW)
    cutoff = "2024-09-18"  # 800 days before 2026-11-27
    assert report.prices_before == cutoff
    dates = [row[0] for row in store.price_bars(conn, "yahoo", "TCS.NS", True)]
    assert min(dates) >= cutoff and len(dates) == total - report.price_old_bars > 500
    assert report.price_old_bars > 0
    fetch = store.price_fetch(conn, "yahoo", "TCS.NS", True)
    assert fetch is not None and fetch["newest_date"] == dates[-1]  # the record still holds
    with pytest.raises(UsageError, match="at least 750 days"):
        retention.prune_db(conn, prices_older_than_days=700, now=NOW)
    oracle(db_path)


def test_a_series_trimmed_to_nothing_loses_its_fetch_record(
    conn: sqlite3.Connection, db_path: Path
) -> None:
    """A ticker whose last bar is older than the cutoff (delisted, still asked for): a fetch
    record promises bars, so it goes too, and the next fetch is a whole one."""
    cache_prices(conn, "TCS.NS", NOW)
    delisted = cache_prices(conn, "GONE.NS", NOW - dt.timedelta(days=1000))
    # An empty refetch: the record says fetched now, its bars stay old.
    store.merge_price_bars(
        conn,
        "yahoo",
        "GONE.NS",
        True,
        [],
        fetched_at=NOW.isoformat(timespec="seconds"),
        exchange_tz="Asia/Kolkata",
        source_version="yfinance 1.7.0",
    )
    report = retention.prune_db(conn, prices_older_than_days=800, now=NOW)
    assert report.price_series_emptied == 1 and report.price_series == 0
    assert report.price_old_bars >= delisted
    assert store.price_fetch(conn, "yahoo", "GONE.NS", True) is None
    assert store.price_fetch(conn, "yahoo", "TCS.NS", True) is not None
    oracle(db_path)


def test_trimmed_cache_still_serves_the_two_years_an_analysis_reads(
    conn: sqlite3.Connection, db_path: Path
) -> None:
    """MIN_PRICE_DAYS is above the yahoo source's window, so trimming never shortens it."""
    from stockscan.sources.yahoo import YahooSource

    now = dt.datetime.now(dt.UTC)
    window_start = YahooSource()._window_start(now)
    limit = (now.date() - dt.timedelta(days=retention.MIN_PRICE_DAYS)).isoformat()
    assert limit < window_start


def test_price_prune_command(conn: sqlite3.Connection, db_path: Path) -> None:
    cache_prices(conn, "OLD.NS", dt.datetime.now(dt.UTC) - dt.timedelta(days=90))
    result = run_cli("db", "prune", "--prices-unused-for", "30", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "Would delete the cached prices of 1 ticker not fetched since" in result.stdout
    result = run_cli("db", "prune", "--prices-unused-for", "30", "--json")
    document = json.loads(result.stdout)
    assert document["prices"]["series_deleted"] == 1 and not document["dry_run"]
    assert store.price_cache_size(conn) == {"bars": 0, "tickers": 0}
    result = run_cli("db", "prune", "--prices-older-than", "30")
    assert result.returncode == 2 and "at least 750 days" in result.stderr


# --- db vacuum, and long operations while a job runs ----------------------------------------


def test_vacuum_gives_pruned_space_back(filled: sqlite3.Connection, db_path: Path) -> None:
    finish_interrupted(filled)
    for n in range(20):
        analyse(filled, DATES[-1], *(f"X{n}{i}.NS" for i in range(20)), n=100 + n)
    retention.prune_db(filled, raw_older_than_days=0, demo=True)
    code, out, err = invoke("db", "vacuum", "--json")
    assert code == 0, err
    sizes = json.loads(out)
    assert sizes["free_pages_before"] > 0
    assert sizes["bytes_after"] < sizes["bytes_before"]
    assert sizes["bytes_after"] == db_path.stat().st_size  # the WAL was checkpointed away
    oracle(db_path)


def test_long_operations_refuse_while_a_job_runs(filled: sqlite3.Connection, db_path: Path) -> None:
    with transaction(filled):
        job_id = store.create_job(
            filled, request_key="k", source="csv", params={"capital": 1, "risk_pct": 1},
            run_date="2026-11-27", tickers=["A.NS"], owner_pid=1, owner_host="h",
        )  # fmt: skip
    with JobLock(db_path, job_id) as lock:
        assert lock.try_acquire()  # this process is the live owner
        for args in (["db", "vacuum"], ["db", "prune", "--raw-older-than", "1"]):
            code, _, err = invoke(*args)
            assert code == 3, err
            assert err.startswith(f"Error: job {job_id} is running (pid 1 on h)")
    # a dead owner does not block anything
    code, _, err = invoke("db", "prune", "--raw-older-than", "1")
    assert code == 0, err
    code, out, _ = invoke("jobs", "prune", "--older-than", "0", "--json")
    assert job_id not in json.loads(out)["job_ids"]  # running: never pruned
