"""`stockscan db import-legacy`: old-design databases with duplicates, NULLs, stuck jobs,
malformed and 100 KB raw JSON, imported once, counted exactly, the old file left untouched."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from stockscan import jobs, legacy, migrations, store
from stockscan.db import connect, transaction
from stockscan.errors import JobAlreadyRunning, JobInterrupted, UsageError
from stockscan.locks import JobLock
from tests.conftest import oracle, run_cli
from tests.fakes import FakeSource

OLD_SCHEMA = """
CREATE TABLE watchlist (id INTEGER PRIMARY KEY, symbol TEXT UNIQUE, name TEXT,
    user_id INTEGER, created_at TIMESTAMP);
CREATE TABLE analysis_jobs (job_id TEXT PRIMARY KEY, status TEXT, total INTEGER,
    completed INTEGER, errors TEXT, created_at TIMESTAMP, started_at TIMESTAMP,
    completed_at TIMESTAMP);
CREATE TABLE analysis_results (id INTEGER PRIMARY KEY, ticker TEXT, symbol TEXT, score REAL,
    verdict TEXT, entry REAL, stop REAL, target REAL, raw_data TEXT, analysis_source TEXT,
    status TEXT, created_at TIMESTAMP, updated_at TIMESTAMP);
"""
RESULT_COLUMNS = ("id", "ticker", "symbol", "score", "verdict", "entry", "stop", "target",
                  "raw_data", "analysis_source", "status", "created_at", "updated_at")  # fmt: skip
BIG_RAW = json.dumps({"series": [{"i": i, "rsi": i * 0.25} for i in range(5000)]})
assert len(BIG_RAW) > 100_000

WATCHLIST = [
    (1, "TCS.NS", "Tata Consultancy", 7, "2024-03-01 09:00:00"),
    (2, " infy.ns ", None, 8, None),  # normalised; no created_at: repaired
    (3, "Infy.NS", "Infosys", 8, "2024-03-01 09:00:00"),  # the same ticker: merged
    (4, "NOT A TICKER", "x", None, "2024-03-01 09:00:00"),
    (5, None, "no symbol", None, "2024-03-01 09:00:00"),
]
JOBS = [
    ("j-failed", "failed", 1, 0, '["boom"]', "2024-03-04 09:00:00", "2024-03-04 09:00:01",
     "2024-03-04 09:30:00"),
    ("j-done", "completed", 2, 2, "[]", "2024-03-04 10:00:00", "2024-03-04 10:00:01",
     "2024-03-04 10:10:00"),
    ("j-errs", "completed", 3, 2, '["WIPRO.NS: no data"]', "2024-03-04 12:00:00",
     "2024-03-04 12:00:01", "2024-03-04 12:30:00"),
    ("j-stuck", "processing", 5, 1, None, "2024-03-06 10:00:00", "2024-03-06 10:00:01", None),
    ("j-null", None, None, None, "", "2024-03-07 08:00:00", None, None),
]  # fmt: skip
# (id, ticker, symbol, score, verdict, entry, stop, target, raw, source, status, created, updated)
RESULTS = [
    (1, "TCS.NS", "TCS", 60, "BUY", 100, 95, 110, '{"v": 1}', "yahoo", "completed",
     "2024-03-04 10:01:00", "2024-03-04 10:01:00"),  # duplicate, loses to 2
    (2, "TCS.NS", "TCS", 65, "BUY", 100, 95, 110, '{"v": 2}', None, None,
     "2024-03-04 10:05:00", "2024-03-04 10:05:00"),  # newest of the day: wins; 2 repairs
    (3, "TCS.NS", "TCS", 62, "BUY", 100, 95, 110, '{"v": 3}', "yahoo", "completed",
     "2024-03-04 10:03:00", "2024-03-04 10:03:00"),  # duplicate, loses to 2
    (4, "tcs.ns", "TCS", 70, "BUY", 101, 96, 111, '{"v": 4}', "yahoo", "completed",
     "2024-03-05 09:00:00", "2024-03-05 09:00:00"),  # next day; orphan (no job window)
    (5, "INFY.NS", "INFY", None, "BUY", 1, 1, 1, "{}", "yahoo", "completed",
     "2024-03-04 12:10:00", "2024-03-04 12:10:00"),  # score NULL: not imported
    (6, "INFY.NS", "INFY", 40, "sell", 50, 55, 40, "{bad json", "demo", "completed",
     "2024-03-04 12:05:00", "2024-03-04 12:05:00"),  # wins (5 and 7 do not compete)
    (7, "INFY.NS", "INFY", 140, "BUY", 1, 1, 1, "{}", "yahoo", "completed",
     "2024-03-04 12:20:00", "2024-03-04 12:20:00"),  # score out of range
    (8, "WIPRO.NS", "WIPRO", 50, "MAYBE", None, None, None, "{}", "yahoo", "completed",
     "2024-03-04 12:15:00", "2024-03-04 12:15:00"),  # unknown verdict
    (9, "RELIANCE.NS", "RELIANCE", 80, "STRONG_BUY", 2900, 2800, 3100, BIG_RAW, "yfinance",
     "completed", "2024-03-06 11:00:00", "2024-03-06 11:00:00"),  # 100 KB raw JSON
    (10, "^NSEI", "NIFTY", 55, "HOLD", None, None, None, "{}", "yahoo", "failed",
     "2024-03-06 11:00:00", "2024-03-06 11:00:00"),  # a status that is not a result's
    (11, "BAD TICKER", "BAD", 55, "HOLD", None, None, None, "{}", "yahoo", "completed",
     "2024-03-06 11:00:00", "2024-03-06 11:00:00"),  # not a ticker
    (12, None, "HDFCBANK.NS", 30, "SELL", 100, 105, 90, "[1, 2]", "yahoo", "completed",
     "2024-03-06 11:30:00", "2024-03-06 11:30:00"),  # ticker from symbol; a short trade
    (13, "SBIN.NS", "SBIN", 45, "HOLD", None, None, None, "{}", "yahoo", "completed",
     None, "2024-03-06T12:00:00+05:30"),  # created_at from updated_at, in UTC; orphan
    (14, "SBIN.NS", "SBIN", 45, "HOLD", None, None, None, "{}", "yahoo", "completed",
     None, None),  # no time at all: no market date
    (15, "TATAMOTORS.NS", "TATAMOTORS", 58, "BUY", 900, 880, 950, None, "yahoo", "completed",
     "2024-03-01 09:00:00", "2024-03-01 09:00:00"),  # raw NULL; orphan
    (16, "ITC.NS", "ITC", "abc", "BUY", None, None, None, "{}", "yahoo", "completed",
     "2024-03-06 11:00:00", "2024-03-06 11:00:00"),  # score not a number
    (17, "ITC.NS", "ITC", 50, "HOLD", None, None, None, "{}", "yahoo", "completed",
     "2024-03-06T01:00:00+05:30", "2024-03-06T01:00:00+05:30"),  # market date 03-05 (UTC)
]  # fmt: skip


def make_old_db(
    path: Path,
    *,
    watchlist: list[tuple[Any, ...]] = WATCHLIST,
    old_jobs: list[tuple[Any, ...]] = JOBS,
    results: list[tuple[Any, ...]] = RESULTS,
    wal: bool = False,
) -> Path:
    conn = sqlite3.connect(path)
    if wal:
        conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(OLD_SCHEMA)
    conn.executemany("INSERT INTO watchlist VALUES (?, ?, ?, ?, ?)", watchlist)
    conn.executemany("INSERT INTO analysis_jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", old_jobs)
    conn.executemany(
        f"INSERT INTO analysis_results ({', '.join(RESULT_COLUMNS)})"
        f" VALUES ({', '.join('?' * len(RESULT_COLUMNS))})",
        results,
    )
    conn.commit()
    conn.close()
    return path


def fingerprint(directory: Path, name: str) -> dict[str, str]:
    """sha256 of the old file and of every file next to it that shares its name."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(directory.iterdir())
        if p.name.startswith(name)
    }


@pytest.fixture
def old_db(tmp_path: Path) -> Path:
    directory = tmp_path / "old"
    directory.mkdir()
    return make_old_db(directory / "stocks.db")


def import_json(*args: str) -> dict[str, Any]:
    result = run_cli("db", "import-legacy", *args, "--json")
    assert result.returncode == 0, result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def rows(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


# --- the whole import, through the command ------------------------------------------------


def test_import_counts_every_row_and_keeps_the_old_file_identical(
    old_db: Path, db_path: Path, tmp_path: Path
) -> None:
    before = fingerprint(old_db.parent, old_db.name)
    out = tmp_path / "not-imported.ndjson"
    report = import_json(str(old_db), "--keep-duplicates-in", str(out))

    assert fingerprint(old_db.parent, old_db.name) == before  # bytes and no sibling file
    assert report["bytes"]["legacy_before"] == report["bytes"]["legacy_after"]
    assert report["bytes"]["database_after"] > report["bytes"]["database_before"] == 0

    assert report["watchlist"] == {
        "read": 5, "imported": 2, "already_present": 0, "merged_duplicates": 1, "invalid": 2,
        "invalid_symbols": ["'NOT A TICKER'", "None"],
    }  # fmt: skip
    assert report["users"]["rows_with_user_id"] == 3
    assert report["users"]["distinct_user_ids"] == 2
    assert "no users yet" in report["users"]["note"]
    assert report["jobs"] == {
        "read": 5, "imported": 5, "already_present": 0, "interrupted": 2, "unimportable": 0,
    }  # fmt: skip
    assert report["results"] == {
        "read": 17, "imported": 8, "tickers": 7, "already_imported": 0, "kept_existing": 0,
        "merged_duplicates": 2, "unimportable": 7,
        "unimportable_reasons": {
            "created_at_missing": 1, "score_not_a_number": 1, "score_null": 1,
            "score_out_of_range": 1, "status_unknown": 1, "ticker_invalid": 1,
            "verdict_unknown": 1,
        },
        "orphans": 4, "invalid_json": 2,
    }  # fmt: skip
    assert report["repaired"] == {
        "jobs.started_at NULL -> created_at": 1,
        "jobs.status NULL -> interrupted": 1,
        "jobs.total NULL or invalid -> 0": 1,
        "results.analysis_source NULL -> unknown": 1,
        "results.created_at NULL or unreadable -> updated_at": 1,
        "results.raw_data NULL -> flagged payload": 1,
        "results.status NULL -> complete": 1,
        "results.ticker NULL -> symbol": 1,
        "results.verdict spelling": 1,
        "watchlist.created_at NULL -> import time": 1,
    }
    assert report["totals"] == {
        "rows_read": 27, "imported": 15, "already_present": 0, "merged_duplicates": 3,
        "repaired": 10, "orphans": 4, "unimportable": 9,
    }  # fmt: skip
    assert report["duplicates_written"] == 9
    oracle(db_path)

    # Results: the newest row of each ticker and day, with its values mapped.
    results = {
        (r[0], r[1]): r[2:]
        for r in rows(
            db_path,
            "SELECT ticker, analysis_date, legacy_result_id, score, verdict, side, status,"
            " analysis_source, scoring_version, close, bars_used FROM analysis_results",
        )
    }
    assert results == {
        ("TCS.NS", "2024-03-04"): (2, 65.0, "BUY", "long", "complete", "unknown", "legacy",
                                   None, None),
        ("TCS.NS", "2024-03-05"): (4, 70.0, "BUY", "long", "complete", "yahoo", "legacy",
                                   None, None),
        ("INFY.NS", "2024-03-04"): (6, 40.0, "SELL", "short", "complete", "demo", "legacy",
                                    None, None),
        ("RELIANCE.NS", "2024-03-06"): (9, 80.0, "STRONG_BUY", "long", "complete", "yahoo",
                                        "legacy", None, None),
        ("HDFCBANK.NS", "2024-03-06"): (12, 30.0, "SELL", "short", "complete", "yahoo",
                                        "legacy", None, None),
        ("SBIN.NS", "2024-03-06"): (13, 45.0, "HOLD", "none", "complete", "yahoo", "legacy",
                                    None, None),
        ("TATAMOTORS.NS", "2024-03-01"): (15, 58.0, "BUY", "long", "complete", "yahoo",
                                          "legacy", None, None),
        ("ITC.NS", "2024-03-05"): (17, 50.0, "HOLD", "none", "complete", "yahoo", "legacy",
                                   None, None),
    }  # fmt: skip
    assert rows(db_path, "SELECT created_at FROM analysis_results WHERE ticker = 'SBIN.NS'") == [
        ("2024-03-06T06:30:00.000+00:00",)
    ]

    # Raw data: valid JSON byte for byte (100 KB too); the rest kept as text, flagged.
    payloads = dict(
        rows(
            db_path,
            "SELECT r.legacy_result_id, d.payload FROM analysis_raw_data d"
            " JOIN analysis_results r ON r.id = d.result_id",
        )
    )
    assert payloads[9] == BIG_RAW and payloads[2] == '{"v": 2}' and payloads[12] == "[1, 2]"
    assert json.loads(payloads[6]) == {"legacy_text": "{bad json", "valid_json": False}
    assert json.loads(payloads[15]) == {"legacy_text": None, "valid_json": False}

    # Jobs: every old job once, by its UUID; stuck ones interrupted, errors kept.
    old_jobs = {
        r[0]: r[1:]
        for r in rows(
            db_path,
            "SELECT legacy_job_id, status, source, total, succeeded, message, params"
            " FROM analysis_jobs WHERE legacy_job_id IS NOT NULL",
        )
    }
    assert {k: v[0] for k, v in old_jobs.items()} == {
        "j-failed": "failed", "j-done": "succeeded", "j-errs": "partial",
        "j-stuck": "interrupted", "j-null": "interrupted",
    }  # fmt: skip
    assert all(v[1] == "legacy" and v[3] == 0 for v in old_jobs.values())
    assert old_jobs["j-stuck"][2] == 5 and "'processing'" in old_jobs["j-stuck"][4]
    assert "WIPRO.NS: no data" in old_jobs["j-errs"][4]
    assert "boom" in old_jobs["j-failed"][4]
    assert old_jobs["j-done"][4] is None
    assert json.loads(old_jobs["j-stuck"][5]) == {
        "legacy_status": "processing", "legacy_total": 5, "legacy_completed": 1,
    }  # fmt: skip

    # One import job, one succeeded stock row per ticker, pointing at its newest result.
    job_id = report["job_id"]
    job = rows(
        db_path,
        "SELECT status, source, total, succeeded, legacy_job_id FROM analysis_jobs WHERE id = ?",
        job_id,
    )
    assert job == [("succeeded", "legacy", 7, 7, None)]
    assert rows(
        db_path,
        "SELECT count(*) FROM analysis_results WHERE job_id IS NOT ?",
        job_id,
    ) == [(0,)]
    details = dict(
        rows(
            db_path,
            "SELECT d.ticker, r.analysis_date FROM analysis_jobs_details d"
            " JOIN analysis_results r ON r.id = d.result_id WHERE d.job_id = ?",
            job_id,
        )
    )
    assert len(details) == 7 and details["TCS.NS"] == "2024-03-05"

    # Watchlist: normalised, merged, linked to its newest result.
    assert rows(
        db_path,
        "SELECT w.ticker, w.name, w.last_job_id, r.analysis_date, w.analysis_status"
        " FROM watchlist w JOIN analysis_results r ON r.id = w.last_result_id ORDER BY w.ticker",
    ) == [
        ("INFY.NS", "Infosys", job_id, "2024-03-04", "succeeded"),
        ("TCS.NS", "Tata Consultancy", job_id, "2024-03-05", "succeeded"),
    ]

    # The NDJSON: every old result that was not imported, with why, and the whole old row.
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(x["reason"], x["row"]["id"]) for x in lines] == [
        ("duplicate", 1), ("duplicate", 3), ("unimportable", 5), ("unimportable", 7),
        ("unimportable", 8), ("unimportable", 10), ("unimportable", 11), ("unimportable", 14),
        ("unimportable", 16),
    ]  # fmt: skip
    assert lines[0]["kept_old_id"] == 2 and lines[0]["row"]["raw_data"] == '{"v": 1}'
    assert lines[2]["problem"] == "score is NULL"
    assert "MAYBE" in lines[4]["problem"]
    assert set(lines[0]["row"]) == set(RESULT_COLUMNS)
    assert not out.with_name(out.name + ".partial").exists()


def test_a_second_run_imports_nothing_twice(old_db: Path, db_path: Path) -> None:
    first = import_json(str(old_db))
    counts = rows(
        db_path,
        "SELECT (SELECT count(*) FROM analysis_jobs), (SELECT count(*) FROM analysis_results),"
        " (SELECT count(*) FROM analysis_raw_data), (SELECT count(*) FROM watchlist),"
        " (SELECT count(*) FROM analysis_jobs_details)",
    )
    second = import_json(str(old_db))
    assert second["job_id"] is None  # no new, empty import job
    assert second["totals"]["imported"] == 0
    assert second["totals"]["repaired"] == 0 and second["repaired"] == {}
    assert second["watchlist"]["already_present"] == first["watchlist"]["imported"] == 2
    assert second["jobs"]["already_present"] == 5 and second["jobs"]["interrupted"] == 0
    assert second["results"]["already_imported"] == first["results"]["imported"] == 8
    # what the old file is does not change: it still has its duplicates and bad rows
    assert second["results"]["merged_duplicates"] == 2
    assert second["results"]["unimportable"] == 7
    assert (
        rows(
            db_path,
            "SELECT (SELECT count(*) FROM analysis_jobs), (SELECT count(*) FROM analysis_results),"
            " (SELECT count(*) FROM analysis_raw_data), (SELECT count(*) FROM watchlist),"
            " (SELECT count(*) FROM analysis_jobs_details)",
        )
        == counts
    )
    oracle(db_path)


def test_new_rows_in_the_old_file_are_imported_by_a_later_run(old_db: Path, db_path: Path) -> None:
    import_json(str(old_db))
    conn = sqlite3.connect(old_db)
    conn.execute(
        "INSERT INTO analysis_results (ticker, score, verdict, raw_data, analysis_source,"
        " status, created_at, updated_at) VALUES"
        " ('TCS.NS', 75, 'BUY', '{}', 'yahoo', 'completed', '2024-03-08 10:00:00', NULL),"
        " ('LT.NS', 75, 'BUY', '{}', 'yahoo', 'completed', '2024-03-08 10:00:00', NULL)"
    )
    conn.commit()
    conn.close()
    report = import_json(str(old_db))
    assert report["results"]["imported"] == 2 and report["results"]["already_imported"] == 8
    assert report["job_id"] is not None
    assert rows(
        db_path, "SELECT total, succeeded, status FROM analysis_jobs WHERE id = ?", report["job_id"]
    ) == [(2, 2, "succeeded")]
    oracle(db_path)


def test_dry_run_counts_the_same_and_writes_nothing(
    old_db: Path, db_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "dry.ndjson"
    dry = import_json(str(old_db), "--dry-run", "--keep-duplicates-in", str(out))
    assert not db_path.exists()  # not even created
    assert dry["dry_run"] is True and dry["job_id"] is None
    real = import_json(str(old_db))
    for section in ("watchlist", "jobs", "results", "repaired"):
        assert dry[section] == real[section], section
    assert len(out.read_text().splitlines()) == 9  # the file was asked for, so it is written
    again = import_json(str(old_db), "--dry-run")
    assert again["totals"]["imported"] == 0
    assert again["results"]["already_imported"] == 8


def test_a_dry_run_counts_what_the_writes_of_the_real_run_decide(tmp_path: Path) -> None:
    """Two old job ids that become one (a BLOB spelled in hex, and the same text): the real
    run imports one and finds the other present; the dry run, the same writes rolled back,
    says so too, into a database that exists and into one that does not."""
    old = make_old_db(
        tmp_path / "o.db", watchlist=[], results=[],
        old_jobs=[(b"\xab", "completed", 1, 1, None, "2024-03-04 09:00:00", None, None),
                  ("ab", "completed", 1, 1, None, "2024-03-04 10:00:00", None, None)],
    )  # fmt: skip
    missing = tmp_path / "missing.db"
    dry = import_json(str(old), "--dry-run", "--db", str(missing))
    assert not missing.exists()
    run_cli("db", "migrate", "--db", str(tmp_path / "empty.db"))
    dry_existing = import_json(str(old), "--dry-run", "--db", str(tmp_path / "empty.db"))
    real = import_json(str(old), "--db", str(tmp_path / "real.db"))
    assert real["jobs"]["imported"] == 1 and real["jobs"]["already_present"] == 1
    for report in (dry, dry_existing):
        assert report["jobs"] == real["jobs"] and report["totals"] == real["totals"]
        assert report["job_id"] is None
    assert rows(tmp_path / "empty.db", "SELECT count(*) FROM analysis_jobs") == [(0,)]


def test_a_dry_run_larger_than_the_page_cache_leaves_the_database_and_its_wal_as_they_were(
    tmp_path: Path,
) -> None:
    raw = json.dumps({"series": list(range(20_000))})  # about 110 KB a row, 4.4 MB in all
    old = make_old_db(
        tmp_path / "big.db", watchlist=[], old_jobs=[],
        results=[(i, f"T{i}.NS", "T", 50, "BUY", None, None, None, raw, "yahoo", "completed",
                  "2024-03-01 10:00:00", None) for i in range(40)],
    )  # fmt: skip
    target = tmp_path / "target.db"
    assert run_cli("db", "migrate", "--db", str(target)).returncode == 0
    dry = import_json(str(old), "--dry-run", "--db", str(target))
    assert dry["results"]["imported"] == 40
    assert dry["bytes"]["database_after"] == dry["bytes"]["database_before"]


def test_a_dry_run_while_the_same_file_is_imported_elsewhere_exits_3_as_the_real_run(
    old_db: Path, db_path: Path
) -> None:
    conn = store.open(db_path)
    with transaction(conn):
        job_id = store.create_job(
            conn, request_key=legacy.import_request_key(old_db), source="legacy", params={},
            run_date="2026-11-27", tickers=[], owner_pid=1, owner_host="elsewhere",
        )  # fmt: skip
    with JobLock(db_path, job_id) as lock:
        assert lock.try_acquire()
        with legacy.open_legacy(old_db) as old, pytest.raises(JobAlreadyRunning):
            legacy.import_legacy(old, conn, dry_run=True)
    assert rows(db_path, "SELECT count(*) FROM watchlist") == [(0,)]
    with transaction(conn):
        store.interrupt_job(conn, job_id, "the test is over")
    conn.close()


def test_text_report_names_every_count(old_db: Path) -> None:
    result = run_cli("db", "import-legacy", str(old_db))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for expected in (
        "27 rows: 5 watchlist, 5 jobs, 17 results",
        "8 imported for 7 tickers into job 6",
        "2 duplicates merged",
        "not imported 7 results",
        "repaired     10 values",
        "orphans      4",
        "2 not valid JSON",
        "no users yet",
        "(unchanged)",
    ):
        assert expected in out, expected
    assert "\x1b[" not in out


# --- the old file is only read ------------------------------------------------------------


def test_a_wal_database_is_read_without_creating_files_next_to_it(
    tmp_path: Path, db_path: Path
) -> None:
    old = make_old_db(tmp_path / "wal.db", wal=True)
    assert old.read_bytes()[18] == 2  # WAL mode, cleanly closed: no -wal, no -shm
    before = fingerprint(tmp_path, "wal.db")
    assert list(before) == ["wal.db"]
    report = import_json(str(old))
    assert report["results"]["imported"] == 8
    assert fingerprint(tmp_path, "wal.db") == before


def test_rows_still_in_the_write_ahead_log_are_imported_and_both_files_kept(
    tmp_path: Path, db_path: Path
) -> None:
    old = make_old_db(tmp_path / "live.db", wal=True)
    # The old service writes a row and dies before any checkpoint: the row is only in -wal.
    code = (
        "import os, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1])\n"
        "c.execute('PRAGMA wal_autocheckpoint = 0')\n"
        'c.execute("INSERT INTO analysis_results (ticker, score, verdict, raw_data, status,'
        " created_at) VALUES ('LT.NS', 66, 'BUY', '{}', 'completed', '2024-03-08 10:00:00')\")\n"
        "c.commit()\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code, str(old)], check=True)
    wal = tmp_path / "live.db-wal"
    assert wal.stat().st_size > 0
    main_and_log = {k: v for k, v in fingerprint(tmp_path, "live.db").items() if "shm" not in k}
    report = import_json(str(old))
    assert report["results"]["imported"] == 9
    assert rows(db_path, "SELECT score FROM analysis_results WHERE ticker = 'LT.NS'") == [(66,)]
    after = fingerprint(tmp_path, "live.db")
    assert {k: v for k, v in after.items() if "shm" not in k} == main_and_log
    assert any("live.db-wal" in note for note in report["notes"])


def test_not_sqlite_or_not_the_old_design_exits_2_naming_what_is_missing(
    tmp_path: Path, db_path: Path
) -> None:
    text = tmp_path / "notes.db"
    text.write_text("this is not a database\n" * 50)
    result = run_cli("db", "import-legacy", str(text))
    assert result.returncode == 2
    assert "not a SQLite database" in result.stderr and str(text) in result.stderr

    partial = tmp_path / "partial.db"
    conn = sqlite3.connect(partial)
    conn.execute("CREATE TABLE watchlist (id INTEGER PRIMARY KEY, symbol TEXT)")
    conn.execute("CREATE TABLE analysis_jobs (job_id TEXT PRIMARY KEY, status TEXT)")
    conn.close()
    result = run_cli("db", "import-legacy", str(partial))
    assert result.returncode == 2
    message = result.stderr
    assert message.startswith("Error: ") and message.count("\n") == 1
    for missing in ("table analysis_results", "watchlist.name", "watchlist.user_id",
                    "analysis_jobs.errors", "analysis_jobs.completed_at"):  # fmt: skip
        assert missing in message, missing

    # a stockscan database is not the old design either
    other = tmp_path / "new.db"
    store.open(other).close()
    result = run_cli("db", "import-legacy", str(other))
    assert result.returncode == 2 and "analysis_jobs.job_id" in result.stderr

    for missing_path in (tmp_path / "nope.db", tmp_path):
        result = run_cli("db", "import-legacy", str(missing_path))
        assert result.returncode == 2, result.stderr
    assert not db_path.exists()  # nothing written anywhere


def test_a_damaged_old_file_is_a_database_error_naming_it(tmp_path: Path, db_path: Path) -> None:
    big_raw = json.dumps({"x": "y" * 5000})
    old = make_old_db(
        tmp_path / "damaged.db",
        results=[
            (i, "TCS.NS", "TCS", 50, "BUY", None, None, None, big_raw, "yahoo", "completed",
             f"2024-03-04 10:{i % 60:02d}:00", None)
            for i in range(1, 200)
        ],
    )  # fmt: skip
    with old.open("r+b") as handle:
        handle.truncate(old.stat().st_size // 2)
    result = run_cli("db", "import-legacy", str(old))
    assert result.returncode == 5
    assert result.stderr == f"Error: {old}: database is corrupt\n"


def test_the_old_file_is_never_the_target_or_the_output(old_db: Path) -> None:
    before = fingerprint(old_db.parent, old_db.name)
    same = run_cli("db", "import-legacy", str(old_db), "--db", str(old_db))
    assert same.returncode == 2 and "also --db" in same.stderr
    clobber = run_cli("db", "import-legacy", str(old_db), "--keep-duplicates-in", str(old_db))
    assert clobber.returncode == 2 and "would overwrite" in clobber.stderr
    assert fingerprint(old_db.parent, old_db.name) == before


# --- living next to stockscan's own results -----------------------------------------------


def test_stockscans_own_result_for_the_same_day_is_kept(
    tmp_path: Path, db_path: Path, conn: sqlite3.Connection
) -> None:
    outcome = jobs.run(
        conn, jobs.JobRequest(("TCS.NS",), "csv"), jobs.SilentReporter(),
        source=FakeSource(),
    )  # fmt: skip
    native = rows(db_path, "SELECT id, score, analysis_source FROM analysis_results")
    old = make_old_db(
        tmp_path / "o.db",
        results=[
            (1, "TCS.NS", "TCS", 10, "SELL", None, None, None, "{}", "yahoo", None,
             "2026-11-27 15:00:00", None),
        ],
    )  # fmt: skip
    out = tmp_path / "lost.ndjson"
    report = import_json(str(old), "--keep-duplicates-in", str(out))
    assert report["results"]["kept_existing"] == 1 and report["results"]["imported"] == 0
    assert rows(db_path, "SELECT id, score, analysis_source FROM analysis_results") == native
    line = json.loads(out.read_text())
    assert line["reason"] == "existing"
    assert line["existing_result_id"] == outcome.stocks[0]["result_id"]
    oracle(db_path)


def test_reanalysing_an_imported_day_makes_it_stockscans_own(
    tmp_path: Path, db_path: Path, conn: sqlite3.Connection
) -> None:
    old = make_old_db(
        tmp_path / "o.db",
        results=[
            (1, "TCS.NS", "TCS", 10, "SELL", None, None, None, "{}", None, None,
             "2026-11-27 15:00:00", None),
            (2, "INFY.NS", "INFY", 10, "SELL", None, None, None, "{}", "yahoo", None,
             "2026-11-27 15:00:00", None),
        ],
    )  # fmt: skip
    import_json(str(old))
    # demo never replaces a result whose source is unknown: it may have been real data
    demo = jobs.run(
        conn, jobs.JobRequest(("TCS.NS",), "demo"), jobs.SilentReporter(),
        source=FakeSource(name="demo"),
    )  # fmt: skip
    assert demo.stocks[0]["status"] == "skipped"
    real = jobs.run(
        conn, jobs.JobRequest(("TCS.NS", "INFY.NS"), "csv"), jobs.SilentReporter(),
        source=FakeSource(),
    )  # fmt: skip
    assert [s["status"] for s in real.stocks] == ["succeeded", "succeeded"]
    assert rows(
        db_path,
        "SELECT ticker, analysis_source, legacy_result_id, scoring_version <> 'legacy',"
        " close IS NOT NULL FROM analysis_results ORDER BY ticker",
    ) == [("INFY.NS", "csv", None, 1, 1), ("TCS.NS", "csv", None, 1, 1)]
    oracle(db_path)


def test_legacy_jobs_show_and_refuse_resume(old_db: Path, db_path: Path) -> None:
    report = import_json(str(old_db))
    stuck = rows(db_path, "SELECT id FROM analysis_jobs WHERE legacy_job_id = 'j-stuck'")[0][0]
    shown = run_cli("jobs", "show", str(stuck))
    assert shown.returncode == 0, shown.stderr
    assert "interrupted" in shown.stdout and "legacy_status processing" in shown.stdout
    document = json.loads(run_cli("jobs", "show", str(report["job_id"]), "--json").stdout)
    assert len(document["stocks"]) == 7
    assert {s["status"] for s in document["stocks"]} == {"succeeded"}
    for job_id, hint in ((stuck, "cannot be resumed"), (report["job_id"], "import-legacy")):
        result = run_cli("jobs", "resume", str(job_id))
        assert result.returncode == 2 and hint in result.stderr, result.stderr
    oracle(db_path)


def test_imported_results_can_be_shown_and_listed(old_db: Path, db_path: Path) -> None:
    import_json(str(old_db))
    tickers = [r[0] for r in rows(db_path, "SELECT DISTINCT ticker FROM analysis_results")]
    for ticker in tickers:
        shown = run_cli("results", "show", ticker)
        assert shown.returncode == 0, shown.stderr
        assert "quantity unknown" in shown.stdout and "Traceback" not in shown.stderr
    for command in (("results", "latest"), ("results", "history", tickers[0]), ("jobs", "list")):
        listed = run_cli(*command)
        assert listed.returncode == 0, (command, listed.stderr)


# --- interruption and concurrency ---------------------------------------------------------


def test_an_interrupted_import_is_continued_by_the_same_command(
    old_db: Path, db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(legacy.importer, "BATCH_ROWS", 2)
    real_insert = store.insert_legacy_result
    calls = 0

    def flaky_insert(conn: sqlite3.Connection, **kw: Any) -> int:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise KeyboardInterrupt
        return real_insert(conn, **kw)

    monkeypatch.setattr(store, "insert_legacy_result", flaky_insert)
    conn = store.open(db_path)
    with legacy.open_legacy(old_db) as old, pytest.raises(JobInterrupted, match="resumable"):
        legacy.import_legacy(old, conn)
    job = rows(db_path, "SELECT id, status FROM analysis_jobs WHERE source = 'legacy'"
               " AND legacy_job_id IS NULL")  # fmt: skip
    assert [status for _, status in job] == ["interrupted"]
    # two batches of two committed; the third rolled back whole
    assert rows(db_path, "SELECT count(*) FROM analysis_results") == [(4,)]
    oracle(db_path)

    with legacy.open_legacy(old_db) as old:
        report = legacy.import_legacy(old, conn).as_json()
    conn.close()
    assert report["job_id"] == job[0][0]  # the same job, continued
    assert report["results"]["imported"] == 4 and report["results"]["already_imported"] == 4
    assert rows(
        db_path, "SELECT status, total, succeeded, attempts FROM analysis_jobs WHERE id = ?",
        job[0][0],
    ) == [("succeeded", 7, 7, 2)]  # fmt: skip
    assert rows(db_path, "SELECT count(*) FROM analysis_results") == [(8,)]
    oracle(db_path)


def test_an_import_of_the_same_file_running_elsewhere_is_refused(
    old_db: Path, db_path: Path
) -> None:
    conn = store.open(db_path)
    key = legacy.import_request_key(old_db)
    with transaction(conn):
        job_id = store.create_job(
            conn, request_key=key, source="legacy", params={}, run_date="2026-11-27",
            tickers=[], owner_pid=1, owner_host="elsewhere",
        )  # fmt: skip
    with JobLock(db_path, job_id) as lock:
        assert lock.try_acquire()
        with legacy.open_legacy(old_db) as old, pytest.raises(JobAlreadyRunning):
            legacy.import_legacy(old, conn)
    assert rows(db_path, "SELECT count(*) FROM analysis_results") == [(0,)]
    conn.close()


def test_memory_stays_bounded_whatever_the_size_of_the_rows(tmp_path: Path, db_path: Path) -> None:
    import tracemalloc

    raw = json.dumps({"series": list(range(20_000))})  # about 110 KB a row, 33 MB in all
    old = make_old_db(
        tmp_path / "big.db",
        results=[
            (i, f"T{i % 50}.NS", "T", 50, "BUY", None, None, None, raw, "yahoo", "completed",
             f"2024-03-{1 + i // 50:02d} 10:00:00", None)
            for i in range(300)
        ],
    )  # fmt: skip
    conn = store.open(db_path)
    tracemalloc.start()
    try:
        with legacy.open_legacy(old) as opened:
            report = legacy.import_legacy(opened, conn).as_json()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        conn.close()
    assert report["results"]["imported"] == 300
    assert peak < 3 * len(raw) + 2_000_000, peak  # a row or two at a time, never all of them
    oracle(db_path)


# --- rows, one at a time ------------------------------------------------------------------


def check(**values: Any) -> legacy.CheckedResult:
    row = dict.fromkeys(RESULT_COLUMNS)
    row.update(ticker="TCS.NS", score=50, verdict="HOLD", status="completed",
               analysis_source="yahoo", created_at="2024-03-04 10:00:00")  # fmt: skip
    row.update(values)
    return legacy.check_result(row)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"score": None}, "score_null"),
        ({"score": -0.1}, "score_out_of_range"),
        ({"score": 100.5}, "score_out_of_range"),
        ({"score": "lots"}, "score_not_a_number"),
        ({"score": b"\x00"}, "score_not_a_number"),
        ({"verdict": None}, "verdict_null"),
        ({"verdict": "BUY!"}, "verdict_unknown"),
        ({"status": "error"}, "status_unknown"),
        ({"ticker": "TCS NS"}, "ticker_invalid"),
        ({"ticker": None, "symbol": None}, "ticker_missing"),
        ({"created_at": "yesterday"}, "created_at_missing"),
        ({"entry": "n/a"}, "plan_not_a_number"),
    ],
)
def test_what_is_never_invented(values: dict[str, Any], problem: str) -> None:
    assert check(**values).problem == problem


def test_what_is_repaired_or_mapped() -> None:
    assert check(score="72.5").score == 72.5 and check(score=0).problem is None
    assert check(verdict=" strong buy ").verdict == "STRONG_BUY"
    assert check(status=None).status == "complete"
    assert check(status="Partial").status == "partial"
    assert check(analysis_source=None).source == "unknown"
    assert check(analysis_source="YFinance").source == "yahoo"
    odd = check(analysis_source="real")
    assert odd.source == "unknown"
    assert "results.analysis_source unrecognised -> unknown" in odd.repairs
    assert check(ticker=" tcs.ns ").ticker == "TCS.NS"
    assert check(created_at=1709546400).market_date == "2024-03-04"  # Unix seconds
    assert check(created_at="2024-03-05T02:00:00+05:30").market_date == "2024-03-04"
    assert check(created_at="2024-03-04").created_at == "2024-03-04T00:00:00.000+00:00"
    assert check(entry=100, stop=90).side == "long"
    assert check(entry=100, stop=110).side == "short"
    assert check(entry=100, stop=None).side == "none"


def old_job(**values: Any) -> legacy.CheckedJob:
    row = {"job_id": "j-1", "status": "completed", "total": 3, "completed": 3, "errors": None,
           "created_at": "2024-03-04 09:00:00", "started_at": None,
           "completed_at": None}  # fmt: skip
    row.update(values)
    return legacy.check_job(row, now="2026-12-01T00:00:00.000+00:00")


def test_an_old_job_maps_to_one_row_without_a_database_or_a_clock() -> None:
    done = old_job()
    assert done.values is not None and done.values["status"] == "succeeded"
    assert done.values["started_at"] == done.values["created_at"] == "2024-03-04T09:00:00.000+00:00"
    assert done.repairs == ["jobs.started_at NULL -> created_at"]
    assert done.window == ("2024-03-04T09:00:00.000+00:00", None)
    with_errors = old_job(errors='["X.NS: no data"]')
    assert with_errors.values is not None and with_errors.values["status"] == "partial"
    assert with_errors.size == len('["X.NS: no data"]')
    stuck = old_job(status="processing", created_at=None, total="many")
    assert stuck.values is not None and stuck.values["status"] == "interrupted"
    assert stuck.values["created_at"] == "2026-12-01T00:00:00.000+00:00"  # the import time
    assert stuck.values["total"] == 0 and stuck.window is None
    assert "jobs.total NULL or invalid -> 0" in stuck.repairs
    assert "never finished" in stuck.values["message"]
    nameless = old_job(job_id=" ", started_at="2024-03-04 08:00:00")
    assert nameless.values is None and nameless.window is not None  # still bounds orphans
    blob = old_job(job_id=b"\xab")
    assert blob.values is not None and blob.values["legacy_job_id"] == "ab"


def test_raw_data_is_never_dropped() -> None:
    assert legacy.raw_payload('{"a": [1, 2]}', True) == ('{"a": [1, 2]}', True)
    text, ok = legacy.raw_payload('{"rsi": NaN}', False)  # what Python's json.dumps writes
    assert not ok and json.loads(text) == {"legacy_text": '{"rsi": NaN}', "valid_json": False}
    blob, ok = legacy.raw_payload(b"\xff\x00", False)
    assert not ok and json.loads(blob)["legacy_base64"] == "/wA="
    # bytes that are not UTF-8 survive as escapes, and the result is valid JSON for SQLite
    broken = b'{"a": "\xff"}'.decode("utf-8", "surrogateescape")
    wrapped, ok = legacy.raw_payload(broken, True)
    assert not ok and wrapped.isascii()
    assert sqlite3.connect(":memory:").execute("SELECT json_valid(?)", (wrapped,)).fetchone() == (
        1,
    )


def test_text_that_is_not_utf8_does_not_stop_the_import(tmp_path: Path, db_path: Path) -> None:
    old = make_old_db(tmp_path / "o.db", results=[], old_jobs=[], watchlist=[])
    conn = sqlite3.connect(old)
    conn.execute(
        "INSERT INTO analysis_results (ticker, score, verdict, raw_data, status, created_at)"
        " VALUES ('TCS.NS', 50, 'HOLD', CAST(X'7B2261223A22FF227D' AS TEXT), 'completed',"
        " '2024-03-04 10:00:00')"
    )
    conn.execute("INSERT INTO watchlist (symbol, name) VALUES ('TCS.NS', CAST(X'54FF' AS TEXT))")
    conn.commit()
    conn.close()
    report = import_json(str(old))
    assert report["results"]["imported"] == 1 and report["results"]["invalid_json"] == 1
    assert rows(db_path, "SELECT name FROM watchlist") == [("T\ufffd",)]
    oracle(db_path)


# --- the migration ------------------------------------------------------------------------


def test_m003_rebuilds_the_tables_of_an_existing_database_losslessly(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = list(migrations.MIGRATIONS)
    m003 = [name for name, _ in everything].index("m003_legacy_import")
    monkeypatch.setattr(migrations, "MIGRATIONS", everything[:m003])
    conn = connect(db_path)
    migrations.migrate(conn)
    # Filled by SQL of that schema: today's store already writes m003's columns.
    for job_id, tickers in enumerate((("TCS.NS", "INFY.NS"), ("WIPRO.NS",), ("LT.NS",)), 1):
        with transaction(conn):
            store.create_job(
                conn, request_key=f"k{job_id}", source="csv", params={}, run_date="2026-11-27",
                tickers=tickers, owner_pid=1, owner_host="h",
            )  # fmt: skip
            for ticker in tickers:
                result_id = conn.execute(
                    "INSERT INTO analysis_results (job_id, ticker, analysis_date, status, score,"
                    " verdict, side, close, analysis_source, scoring_version, bars_used,"
                    " created_at, updated_at) VALUES (?, ?, '2026-11-27', 'complete', 50,"
                    " 'HOLD', 'none', 10, 'csv', '1', 300, 'x', 'x') RETURNING id",
                    (job_id, ticker),
                ).fetchone()[0]
                conn.execute(
                    "INSERT INTO analysis_raw_data (result_id, payload, created_at)"
                    " VALUES (?, '{}', 'x')",
                    (result_id,),
                )
                conn.execute(
                    "UPDATE analysis_jobs_details SET status = 'succeeded', result_id = ?"
                    " WHERE job_id = ? AND ticker = ?",
                    (result_id, job_id, ticker),
                )
            conn.execute(
                "UPDATE analysis_jobs SET status = 'succeeded', succeeded = total WHERE id = ?",
                (job_id,),
            )
    conn.execute("INSERT INTO watchlist (ticker, added_at) VALUES ('TCS.NS', 'x')")
    conn.execute("UPDATE watchlist SET last_job_id = 1, last_result_id = 1")
    conn.execute("DELETE FROM analysis_jobs WHERE id = 3")  # the newest id must not come back
    tables = ("analysis_jobs", "analysis_jobs_details", "analysis_results",
              "analysis_raw_data", "watchlist")  # fmt: skip
    before = {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in tables}
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}

    monkeypatch.setattr(migrations, "MIGRATIONS", everything)
    assert migrations.migrate(conn)[0] == "m003_legacy_import"
    for table in tables:
        after = conn.execute(f"SELECT * FROM {table} ORDER BY id").fetchall()
        # every old column keeps its values; new columns (legacy_*, later ones) come after
        assert [row[: len(old)] for row, old in zip(after, before[table], strict=True)] == (
            before[table]
        ), table
    assert indexes <= {
        r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")
    }
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    assert not conn.execute(
        "SELECT name FROM sqlite_master WHERE name LIKE '_m003_old_%'"
    ).fetchall()
    with transaction(conn):
        new_id = store.create_job(
            conn, request_key="k", source="demo", params={}, run_date="2026-11-27",
            tickers=["A"], owner_pid=1, owner_host="h",
        )  # fmt: skip
    assert new_id == 4
    # the foreign keys still act: a deleted job takes its stock rows and unlinks its results
    conn.execute("DELETE FROM analysis_jobs WHERE id = 1")
    assert conn.execute(
        "SELECT count(*) FROM analysis_jobs_details WHERE job_id = 1"
    ).fetchone() == (0,)
    assert conn.execute("SELECT last_job_id FROM watchlist").fetchone() == (None,)
    conn.close()
    oracle(db_path, dead_owners=True)  # job 4 is a row written here, never run by a process


def test_the_rebuild_refuses_to_drop_a_column_it_does_not_know(db_path: Path) -> None:
    conn = connect(db_path)
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, keep TEXT, surprise TEXT)")
    with pytest.raises(RuntimeError, match="surprise"), transaction(conn):
        migrations.rebuild_tables(
            conn, "_old_", {"t": "CREATE TABLE t (id INTEGER PRIMARY KEY, keep TEXT);"}
        )
    assert [r[1] for r in conn.execute("PRAGMA table_info(t)")] == ["id", "keep", "surprise"]
    conn.close()


def test_imported_shapes_stay_with_imported_rows(conn: sqlite3.Connection) -> None:
    insert = (
        "INSERT INTO analysis_results (ticker, analysis_date, status, score, verdict, side,"
        " close, analysis_source, scoring_version, bars_used, created_at, updated_at,"
        " legacy_result_id) VALUES ('A', '2024-01-02', 'complete', 50, 'HOLD', 'none', ?, ?, ?,"
        " ?, 'x', 'x', ?)"
    )
    for bad in (
        (1.0, "unknown", "1.0", 200, None),  # 'unknown' source on stockscan's own result
        (None, "yahoo", "1.0", 200, None),  # no close on stockscan's own result
        (1.0, "yahoo", "legacy", 200, None),  # 'legacy' scoring without an old id
        (None, "yahoo", "1.0", None, 7),  # an old id on a stockscan scoring version
    ):
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(insert, bad)
    conn.execute(insert, (None, "unknown", "legacy", None, 7))
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO analysis_jobs (request_key, status, source, params, run_date, total,"
            " created_at, started_at, legacy_job_id)"
            " VALUES ('k', 'failed', 'demo', '{}', 'x', 0, 'x', 'x', 'u-1')"
        )


def test_usage_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no file at"), legacy.open_legacy(tmp_path / "x.db"):
        pass
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    with pytest.raises(UsageError, match="missing table watchlist; table analysis_jobs"):
        with legacy.open_legacy(empty):
            pass
    assert empty.read_bytes() == b""
