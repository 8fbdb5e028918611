"""A database of the first release: the schema of m001 only, filled the way that release filled
it (jobs, their stock rows, results with raw data, a watchlist), for migration tests."""

from __future__ import annotations

import json
from pathlib import Path

from stockscan import migrations
from stockscan.db import connect, transaction


def build_first_release(path: Path, *, jobs: int = 20, per_job: int = 200) -> Path:
    """``jobs`` finished csv jobs of ``per_job`` stocks each, every stock with a result and
    ~2 KB of raw data: about 10 MB with the defaults."""
    conn = connect(path)
    try:
        with transaction(conn):
            migrations.m001_initial(conn)
            conn.execute(
                "CREATE TABLE _migrations ( name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            conn.execute(
                "INSERT INTO _migrations VALUES ('m001_initial', '2026-01-05T10:00:00+00:00')"
            )
        payload = json.dumps({"indicators": [round(i * 0.731, 4) for i in range(300)]})
        for job in range(1, jobs + 1):
            day = f"2026-{1 + job // 28:02d}-{1 + job % 28:02d}"
            with transaction(conn):
                conn.execute(
                    "INSERT INTO analysis_jobs (id, request_key, status, source, params, run_date,"
                    " total, succeeded, owner_pid, owner_host, created_at, started_at,"
                    " finished_at)"
                    " VALUES (?, ?, 'succeeded', 'csv', '{}', ?, ?, ?, 1, 'h', ?, ?, ?)",
                    (job, f"key-{job}", day, per_job, per_job, day, day, day),
                )
                for position in range(per_job):
                    ticker = f"T{position:04d}.NS"
                    result_id = conn.execute(
                        "INSERT INTO analysis_results (job_id, ticker, analysis_date, status,"
                        " score, verdict, side, close, entry, stop, target, reward_risk,"
                        " analysis_source, scoring_version, bars_used, created_at, updated_at)"
                        " VALUES (?, ?, ?, 'complete', 61.5, 'BUY', 'long', 100, 101, 95, 113,"
                        " 2.0, 'csv', '1', 300, ?, ?) RETURNING id",
                        (job, ticker, day, day, day),
                    ).fetchone()[0]
                    conn.execute(
                        "INSERT INTO analysis_raw_data (result_id, payload, created_at)"
                        " VALUES (?, ?, ?)",
                        (result_id, payload, day),
                    )
                    conn.execute(
                        "INSERT INTO analysis_jobs_details (job_id, ticker, position, status,"
                        " attempts, result_id, quantity, started_at, finished_at)"
                        " VALUES (?, ?, ?, 'succeeded', 1, ?, 10, ?, ?)",
                        (job, ticker, position, result_id, day, day),
                    )
        with transaction(conn):
            conn.execute(
                "INSERT INTO watchlist (ticker, added_at, last_job_id, last_result_id)"
                " VALUES ('T0001.NS', '2026-01-05', ?, 2)",
                (jobs,),
            )
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return path
