"""The writes of `stockscan db import-legacy` (stockscan.legacy reads the old file itself: its
schema is foreign). Each runs in the caller's transaction and writes only what is absent, so a
second import writes nothing twice."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from stockscan.store.base import now_iso
from stockscan.store.jobs import Job, finish_job, get_job
from stockscan.store.screens import write_indicators


def insert_legacy_watchlist(
    conn: sqlite3.Connection, ticker: str, name: str | None, added_at: str
) -> bool:
    """Follow ``ticker`` unless it is already followed; True when a row was added."""
    row = conn.execute(
        "INSERT INTO watchlist (ticker, name, added_at) VALUES (?, ?, ?)"
        " ON CONFLICT (ticker) DO NOTHING RETURNING id",
        (ticker, name, added_at),
    ).fetchone()
    return row is not None


def insert_legacy_job(
    conn: sqlite3.Connection,
    *,
    legacy_job_id: str,
    request_key: str,
    status: str,
    params: dict[str, Any],
    run_date: str,
    total: int,
    message: str | None,
    created_at: str,
    started_at: str,
    finished_at: str | None,
) -> bool:
    """One job of the old system, keyed by its UUID; True when it was not there yet."""
    row = conn.execute(
        "INSERT INTO analysis_jobs (request_key, status, source, params, run_date, total,"
        " message, created_at, started_at, finished_at, legacy_job_id)"
        " VALUES (?, ?, 'legacy', ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (legacy_job_id) WHERE legacy_job_id IS NOT NULL DO NOTHING RETURNING id",
        (
            request_key,
            status,
            json.dumps(params, sort_keys=True),
            run_date,
            total,
            message,
            created_at,
            started_at,
            finished_at,
            legacy_job_id,
        ),
    ).fetchone()
    return row is not None


def insert_legacy_result(
    conn: sqlite3.Connection,
    *,
    job_id: int,
    legacy_result_id: int,
    ticker: str,
    analysis_date: str,
    status: str,
    score: float,
    verdict: str,
    side: str,
    entry: float | None,
    stop: float | None,
    target: float | None,
    analysis_source: str,
    created_at: str,
    updated_at: str,
    payload: str,
) -> int:
    """An old result, its raw data and its (empty) indicator row. The caller has checked that
    the ticker and date are free (``find_result``) in the same transaction, so this never
    meets a conflict."""
    row = conn.execute(
        "INSERT INTO analysis_results (job_id, ticker, analysis_date, status, score, verdict,"
        " side, entry, stop, target, analysis_source, scoring_version, created_at, updated_at,"
        " legacy_result_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'legacy', ?, ?, ?)"
        " RETURNING id",
        (
            job_id,
            ticker,
            analysis_date,
            status,
            score,
            verdict,
            side,
            entry,
            stop,
            target,
            analysis_source,
            created_at,
            updated_at,
            legacy_result_id,
        ),
    ).fetchone()
    result_id = int(row[0])
    conn.execute(
        "INSERT INTO analysis_raw_data (result_id, payload, created_at) VALUES (?, ?, ?)",
        (result_id, payload, created_at),
    )
    write_indicators(conn, result_id)
    return result_id


def record_legacy_ticker(conn: sqlite3.Connection, job_id: int, ticker: str) -> None:
    """The import job's one stock row per ticker: succeeded, pointing at the newest result the
    job imported for it. The job's total and succeeded count follow its rows."""
    now = now_iso()
    newest = conn.execute(
        "SELECT id FROM analysis_results WHERE ticker = ? AND job_id = ?"
        " ORDER BY analysis_date DESC LIMIT 1",
        (ticker, job_id),
    ).fetchone()
    if newest is None:
        return
    updated = conn.execute(
        "UPDATE analysis_jobs_details SET result_id = ?, finished_at = ?"
        " WHERE job_id = ? AND ticker = ?",
        (newest[0], now, job_id, ticker),
    ).rowcount
    if updated:
        return
    conn.execute(
        "INSERT INTO analysis_jobs_details (job_id, ticker, position, status, attempts,"
        " result_id, started_at, finished_at)"
        " SELECT ?, ?, total + 1, 'succeeded', 1, ?, ?, ? FROM analysis_jobs WHERE id = ?",
        (job_id, ticker, newest[0], now, now, job_id),
    )
    conn.execute(
        "UPDATE analysis_jobs SET total = total + 1, succeeded = succeeded + 1 WHERE id = ?",
        (job_id,),
    )


def finish_legacy_import(conn: sqlite3.Connection, job_id: int, message: str) -> Job:
    finish_job(conn, job_id)
    conn.execute("UPDATE analysis_jobs SET message = ? WHERE id = ?", (message, job_id))
    job = get_job(conn, job_id)
    assert job is not None
    return job


def link_watchlist_to_latest(conn: sqlite3.Connection) -> int:
    """Link each followed ticker that was never analysed to its newest result, as a job would
    have; returns how many were linked."""
    return conn.execute(
        "UPDATE watchlist SET (last_result_id, last_job_id, last_analyzed_at, analysis_status) ="
        " (SELECT r.id, r.job_id, r.updated_at, 'succeeded' FROM analysis_results AS r"
        "  WHERE r.ticker = watchlist.ticker ORDER BY r.analysis_date DESC LIMIT 1)"
        " WHERE last_job_id IS NULL AND last_result_id IS NULL"
        " AND EXISTS (SELECT 1 FROM analysis_results WHERE ticker = watchlist.ticker)"
    ).rowcount
