"""Migrations are all or nothing, and never fill the disk: a database of the first release,
opened by a read command, on a disk too small for its migration and then on one big enough.
And m004 and m005 keep every row and constraint of a populated database of the version before
each."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stockscan import migrations, store
from stockscan.analysis.model import INDICATOR_NAMES
from stockscan.db import connect, transaction
from tests.conftest import oracle, tmpfs
from tests.first_release import build_first_release
from tests.reliability.conftest import harness

STOCKSCAN = str(Path(sys.executable).parent / "stockscan")
ALL = [name for name, _ in migrations.MIGRATIONS]
TABLES = ("analysis_jobs", "analysis_jobs_details", "analysis_results", "analysis_raw_data",
          "watchlist")  # fmt: skip


def cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STOCKSCAN, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "STOCKSCAN_DB": str(db)},
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 20 MB file system (tmpfs), unmounted afterwards."""
    with tmpfs(tmp_path / "disk", "20m") as where:
        yield where


def contents(db: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(db)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in TABLES}
    finally:
        conn.close()


def applied(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]
    finally:
        conn.close()


def test_a_migration_refuses_before_its_first_write_when_the_disk_is_too_small(
    tmp_path: Path, small_disk: Path
) -> None:
    built = build_first_release(tmp_path / "first.db", jobs=12)
    size = built.stat().st_size
    assert 9e6 < size < 12e6, size
    db = small_disk / "stockscan.db"
    shutil.copyfile(built, db)
    before = db.read_bytes()
    free = shutil.disk_usage(small_disk).free

    # a read command is what the user runs first after an upgrade
    refused = cli("jobs", "list", db=db)
    assert refused.returncode == 5, (refused.stdout, refused.stderr)
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith(
        f"Error: {db}: updating its schema ({len(ALL) - 1} pending migrations)"
    )
    needed = float(refused.stderr.split("needs about ")[1].split(" MB")[0])
    shown_free = float(refused.stderr.split("which has ")[1].split(" MB")[0])
    assert needed * 1e6 > 2.9 * size  # at least the measured peak
    assert abs(shown_free * 1e6 - free) < 0.2e6
    assert "nothing was changed" in refused.stderr
    assert db.read_bytes() == before  # byte-identical
    wal = Path(f"{db}-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    assert applied(db) == ["m001_initial"]
    # the disk is not left full: every other command can still say so
    assert shutil.disk_usage(small_disk).free > free - 1e6
    info = cli("db", "check", db=db)
    assert info.returncode == 5 and "updating its schema" in info.stderr

    # with enough space, the same command migrates everything and loses nothing
    old = contents(db)
    subprocess.run(["mount", "-o", "remount,size=60m", str(small_disk)], check=True)
    listed = cli("jobs", "list", db=db)
    assert listed.returncode == 0, listed.stderr
    assert applied(db) == ALL
    new = contents(db)
    for table in TABLES:
        assert [row[: len(o)] for row, o in zip(new[table], old[table], strict=True)] == old[table]
    assert not wal.exists() or wal.stat().st_size == 0  # the log's space was given back
    oracle(db)


def test_pending_migrations_are_one_unit_a_failure_in_the_last_undoes_them_all(
    tmp_path: Path,
) -> None:
    """The first release's database has three migrations pending; the last one fails (after
    doing its work): m003's rebuild and m004 are rolled back with it."""
    db = build_first_release(tmp_path / "first.db", jobs=2, per_job=20)
    before = db.read_bytes()
    old = contents(db)
    failed = harness("jobs", "list", config={"migration_fails": ALL[-1]}, db=db)
    assert failed.returncode == 5, failed.stderr
    assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr
    assert "no such table: harness_injected_failure" in failed.stderr
    assert applied(db) == ["m001_initial"]
    assert db.read_bytes() == before
    conn = sqlite3.connect(db)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(analysis_results)")]
    conn.close()
    assert "legacy_result_id" not in columns  # m003's rebuild is undone
    assert contents(db) == old
    # the next run, without the fault, applies all of them
    assert cli("jobs", "list", db=db).returncode == 0
    assert applied(db) == ALL
    oracle(db)


# --- m004 and m005 on a populated database of the version before each ----------------------


def migrate_to(conn: sqlite3.Connection, last: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Apply the migrations up to ``last`` only: the frozen DDL of that version."""
    everything = list(migrations.MIGRATIONS)
    names = [name for name, _ in everything]
    with monkeypatch.context() as patch:
        patch.setattr(migrations, "MIGRATIONS", everything[: names.index(last) + 1])
        return migrations.migrate(conn)


def rows(conn: sqlite3.Connection, table: str) -> list[tuple[object, ...]]:
    key = "source, ticker, auto_adjust" if table.startswith("price_") else "rowid"
    return conn.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()


def fill_m003(conn: sqlite3.Connection) -> None:
    """A row of every kind the m003 schema holds, written with that schema's columns only: a
    finished csv job with a succeeded and a failed stock; an interrupted yahoo job with two
    pending ones; the old system's job with an imported result; raw data for each result; a
    followed ticker linked to its result and one never analysed."""
    # executescript would COMMIT first: one statement at a time, in one transaction.
    with transaction(conn):
        for statement in M003_ROWS.split(";\n"):
            if statement.strip():
                conn.execute(statement)


M003_ROWS = """
INSERT INTO analysis_jobs (id, request_key, status, source, params, run_date, total,
    succeeded, failed, owner_pid, owner_host, created_at, started_at, finished_at)
VALUES (1, 'k1', 'partial', 'csv', '{"capital": 100000, "risk_pct": 1, "data_dir": "/d"}',
    '2026-11-27', 2, 1, 1, 11, 'h', '2026-11-27T10:00:00Z', '2026-11-27T10:00:00Z',
    '2026-11-27T10:01:00Z');
INSERT INTO analysis_jobs (id, request_key, status, source, params, run_date, total,
    owner_pid, owner_host, message, created_at, started_at)
VALUES (2, 'k2', 'interrupted', 'yahoo', '{"capital": 5000, "risk_pct": 2}', '2026-11-27', 2,
    12, 'h', 'interrupted by SIGTERM', '2026-11-27T11:00:00Z', '2026-11-27T11:00:00Z');
INSERT INTO analysis_jobs (id, request_key, status, source, params, run_date, total,
    succeeded, created_at, started_at, finished_at, legacy_job_id)
VALUES (3, 'legacy-uuid', 'succeeded', 'legacy', '{}', '2026-10-01', 1, 1,
    '2026-10-01T09:00:00Z', '2026-10-01T09:00:00Z', '2026-10-01T09:05:00Z', 'uuid-1');
INSERT INTO analysis_results (id, job_id, ticker, analysis_date, status, score, verdict, side,
    close, entry, stop, target, reward_risk, analysis_source, scoring_version, bars_used,
    created_at, updated_at)
VALUES (1, 1, 'TCS.NS', '2026-11-27', 'complete', 72.5, 'BUY', 'long', 100, 101, 95, 113,
    2.0, 'csv', '1', 300, '2026-11-27T10:00:30Z', '2026-11-27T10:00:30Z');
INSERT INTO analysis_results (id, job_id, ticker, analysis_date, status, score, verdict, side,
    entry, stop, target, analysis_source, scoring_version, created_at, updated_at,
    legacy_result_id)
VALUES (2, 3, 'INFY.NS', '2026-10-01', 'partial', 40, 'SELL', 'short', 90, 95, 80, 'unknown',
    'legacy', '2026-10-01T09:01:00Z', '2026-10-01T09:01:00Z', 77);
INSERT INTO analysis_raw_data (result_id, payload, created_at)
VALUES (1, '{"indicators": {"rsi_14": 55.1}}', '2026-11-27T10:00:30Z'),
       (2, '{"legacy": true}', '2026-10-01T09:01:00Z');
INSERT INTO analysis_jobs_details (job_id, ticker, position, status, attempts, error_kind,
    error_message, result_id, quantity, started_at, finished_at)
VALUES (1, 'TCS.NS', 1, 'succeeded', 1, NULL, NULL, 1, 200, 'a', 'b'),
       (1, 'BAD.NS', 2, 'failed', 2, 'no_data', 'no rows', NULL, NULL, 'a', 'b'),
       (2, 'WIPRO.NS', 1, 'pending', 1, NULL, NULL, NULL, NULL, NULL, NULL),
       (2, 'LT.NS', 2, 'pending', 0, NULL, NULL, NULL, NULL, NULL, NULL),
       (3, 'INFY.NS', 1, 'succeeded', 1, NULL, NULL, 2, NULL, 'a', 'b');
INSERT INTO watchlist (ticker, name, added_at, last_job_id, last_result_id, last_analyzed_at,
    analysis_status)
VALUES ('TCS.NS', 'Tata', '2026-11-01', 1, 1, '2026-11-27T10:00:30Z', 'succeeded'),
       ('HDFC.NS', NULL, '2026-11-02', NULL, NULL, NULL, NULL);
"""


def constraints_hold(conn: sqlite3.Connection) -> None:
    """The migrated tables still refuse what their constraints refuse, and are consistent."""
    assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    refused = [
        # a second result for a ticker and date (idx_results_ticker_date)
        "INSERT INTO analysis_results (ticker, analysis_date, status, score, verdict, side,"
        " close, analysis_source, scoring_version, bars_used, created_at, updated_at)"
        " VALUES ('TCS.NS', '2026-11-27', 'complete', 50, 'HOLD', 'none', 1, 'csv', '1', 1,"
        " 'x', 'x')",
        # a native result without its close (ck_results_native_or_legacy)
        "INSERT INTO analysis_results (ticker, analysis_date, status, score, verdict, side,"
        " analysis_source, scoring_version, bars_used, created_at, updated_at)"
        " VALUES ('NEW.NS', '2026-11-27', 'complete', 50, 'HOLD', 'none', 'csv', '1', 1,"
        " 'x', 'x')",
        # a stock of a job that does not exist (foreign key)
        "INSERT INTO analysis_jobs_details (job_id, ticker, position) VALUES (99, 'X', 1)",
        # a status outside the vocabulary
        "UPDATE analysis_jobs_details SET status = 'done' WHERE job_id = 1",
        # a second active job of one request (idx_jobs_active_request)
        "INSERT INTO analysis_jobs (request_key, status, source, params, run_date, total,"
        " created_at, started_at) VALUES ('k2', 'running', 'demo', '{}', 'x', 0, 'x', 'x')",
        # the same stock twice in one job (uq_details_job_ticker)
        "INSERT INTO analysis_jobs_details (job_id, ticker, position) VALUES (1, 'TCS.NS', 9)",
        # a followed ticker twice
        "INSERT INTO watchlist (ticker, added_at) VALUES ('TCS.NS', 'x')",
    ]
    for sql in refused:
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(sql)
    # ON DELETE still does what m001 said: deleting a result unlinks its stock and watchlist
    # row and takes its raw data (then rolled back, so the rows stay for the next check).
    with pytest.raises(RolledBack), transaction(conn):
        conn.execute("DELETE FROM analysis_results WHERE id = 1")
        assert conn.execute("SELECT result_id FROM analysis_jobs_details WHERE job_id = 1"
                            " AND ticker = 'TCS.NS'").fetchone() == (None,)  # fmt: skip
        assert conn.execute("SELECT last_result_id FROM watchlist WHERE ticker = 'TCS.NS'"
                            ).fetchone() == (None,)  # fmt: skip
        assert conn.execute("SELECT count(*) FROM analysis_raw_data WHERE result_id = 1"
                            ).fetchone() == (0,)  # fmt: skip
        raise RolledBack
    assert conn.execute("SELECT count(*) FROM analysis_results").fetchone() == (2,)


class RolledBack(Exception):
    """Raised to roll a check's writes back."""


def test_m004_keeps_every_row_of_a_populated_m003_database_and_its_constraints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conn = connect(tmp_path / "m003.db")
    assert migrate_to(conn, "m003_legacy_import", monkeypatch) == ALL[:2]
    fill_m003(conn)
    before = {table: rows(conn, table) for table in TABLES}

    assert migrate_to(conn, "m004_detail_note", monkeypatch) == ["m004_detail_note"]
    after = {table: rows(conn, table) for table in TABLES}
    # the stock rows gain `note`, NULL on every old row; the other tables are as they were
    assert after["analysis_jobs_details"] == [
        (*row, None) for row in before["analysis_jobs_details"]
    ]
    for table in TABLES:
        if table != "analysis_jobs_details":
            assert after[table] == before[table], table
    indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert "idx_results_date" in indexes
    constraints_hold(conn)
    conn.close()


def test_m005_keeps_every_row_of_a_populated_m004_database_and_its_constraints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "m004.db"
    conn = connect(db)
    migrate_to(conn, "m004_detail_note", monkeypatch)
    fill_m003(conn)
    with transaction(conn):
        conn.execute("UPDATE analysis_jobs_details SET note = 'no new bars since 2026-11-26'"
                     " WHERE job_id = 1 AND ticker = 'TCS.NS'")  # fmt: skip
    before = {table: rows(conn, table) for table in TABLES}

    assert migrate_to(conn, "m005_price_cache", monkeypatch) == ["m005_price_cache"]
    after = {table: rows(conn, table) for table in TABLES}
    # results gain fetched_at, source_version and auto_adjust: NULL (unknown) on old rows
    assert after["analysis_results"] == [
        (*row, None, None, None) for row in before["analysis_results"]
    ]
    for table in TABLES:
        if table != "analysis_results":
            assert after[table] == before[table], table
    assert rows(conn, "price_bars") == [] and rows(conn, "price_fetches") == []
    constraints_hold(conn)
    for sql in (
        "UPDATE analysis_results SET auto_adjust = 2 WHERE id = 1",
        "INSERT INTO price_bars VALUES ('yahoo', 'TCS.NS', 1, '27/11/2026', 1, 1, 1, 1, 0)",
        "INSERT INTO price_fetches (source, ticker, auto_adjust, fetched_at, newest_date)"
        " VALUES ('yahoo', 'TCS.NS', 3, 'x', 'x')",
    ):
        with pytest.raises(sqlite3.IntegrityError):
            conn.execute(sql)
    # The migrated database (with the migrations after m005) is the one a new install gets,
    # and today's store reads its rows.
    migrations.migrate(conn)
    fresh = store.open(tmp_path / "fresh.db")
    assert migrations.schema_sql(conn) == migrations.schema_sql(fresh)
    fresh.close()
    conn.close()
    conn = store.open(db)
    imported = store.find_result(conn, "INFY.NS", on="2026-10-01")
    assert imported is not None and imported["legacy_result_id"] == 77
    assert imported["job_params"] == {} and imported["fetched_at"] is None
    job = store.get_job(conn, 1)
    assert job is not None and job["params"]["data_dir"] == "/d"
    assert [s["note"] for s in store.job_stocks(conn, 1)] == [
        "no new bars since 2026-11-26",
        None,
    ]
    conn.close()
    oracle(db)


def test_m006_fills_every_result_s_indicator_row_from_its_raw_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a populated m005 database: a result with a full snapshot gets its values and the
    derived percentages; one whose raw data holds a partial or odd snapshot gets numbers only
    where there are numbers; a pruned one and an imported one get NULLs. No other row moves."""
    db = tmp_path / "m005.db"
    conn = connect(db)
    migrate_to(conn, "m005_price_cache", monkeypatch)
    fill_m003(conn)
    snapshot = {name: float(index + 1) for index, name in enumerate(INDICATOR_NAMES)}
    snapshot.update(atr_14=2.5, high_52w=125.0, volume_ratio_20=None)
    with transaction(conn):
        conn.execute("UPDATE analysis_raw_data SET payload = ? WHERE result_id = 1",
                     (json.dumps({"indicators": snapshot}),))  # fmt: skip
        for result_id, ticker, payload in (
            (3, "WIPRO.NS", '{"pruned_at": "2026-11-28T00:00:00Z"}'),
            (4, "LT.NS", '{"indicators": {"rsi_14": "high", "sma_20": [1], "macd": 2}}'),
        ):
            conn.execute(
                "INSERT INTO analysis_results (id, job_id, ticker, analysis_date, status, score,"
                " verdict, side, close, analysis_source, scoring_version, bars_used,"
                " created_at, updated_at) VALUES (?, 1, ?, '2026-11-20', 'complete', 50,"
                " 'HOLD', 'none', 80, 'csv', '1', 300, 'x', 'x')",
                (result_id, ticker),
            )
            conn.execute(
                "INSERT INTO analysis_raw_data (result_id, payload, created_at) VALUES (?, ?, 'x')",
                (result_id, payload),
            )
    before = {table: rows(conn, table) for table in TABLES}

    assert migrate_to(conn, "m006_screens", monkeypatch) == ["m006_screens"]
    assert {table: rows(conn, table) for table in TABLES} == before
    conn.row_factory = sqlite3.Row
    found = {r["result_id"]: dict(r) for r in conn.execute("SELECT * FROM result_indicators")}
    conn.row_factory = None
    assert sorted(found) == [1, 2, 3, 4]
    full = found[1]
    assert {name: full[name] for name in INDICATOR_NAMES} == snapshot
    # TCS.NS: close 100, stop 95
    assert full["atr_pct"] == pytest.approx(2.5)
    assert full["stop_pct"] == pytest.approx(5.0)
    assert full["pct_from_52w_high"] == pytest.approx(-20.0)
    # the imported result (no close, no indicators) and the pruned one: NULL everywhere
    for result_id in (2, 3):
        assert set(found[result_id].values()) == {result_id, None}
    odd = found[4]
    assert odd["macd"] == 2 and odd["rsi_14"] is None and odd["sma_20"] is None
    assert all(type(v) in (int, float, type(None)) for v in odd.values())
    # the row goes with its result
    with transaction(conn):
        conn.execute("DELETE FROM analysis_results WHERE id IN (3, 4)")
    assert conn.execute("SELECT result_id FROM result_indicators").fetchall() == [(1,), (2,)]
    constraints_hold(conn)
    fresh = store.open(tmp_path / "fresh.db")
    assert migrations.schema_sql(conn) == migrations.schema_sql(fresh)
    fresh.close()
    conn.close()
    oracle(db)
