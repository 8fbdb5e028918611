"""What `jobs prune`, `db prune` and `db vacuum` do to the tables, and the database-wide
counts and checks of `db info` and `db check`.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from stockscan.store.base import ACTIVE_JOB_STATUSES, TERMINAL_JOB_STATUSES
from stockscan.store.jobs import Job, _jobs, _set_stock_status

# What `jobs prune` and `db prune` delete. Each effect is counted from the same id list the
# delete then uses, inside the caller's transaction, so what is reported is what is done.

# A pruned raw row keeps only this key: the result stays explainable as "pruned on <date>"
# rather than looking lost, and every result still has its raw-data row.
RAW_PRUNED_KEY = "pruned_at"


def terminal_jobs(
    conn: sqlite3.Connection, *, finished_before: str | None = None, source: str | None = None
) -> list[int]:
    """Ids of finished jobs (never running or interrupted ones), optionally only those that
    finished before ``finished_before`` (ISO UTC) or ran on ``source``."""
    clauses = [f"status IN ({', '.join('?' * len(TERMINAL_JOB_STATUSES))})"]
    params: list[Any] = list(TERMINAL_JOB_STATUSES)
    if finished_before is not None:
        clauses.append("coalesce(finished_at, created_at) < ?")
        params.append(finished_before)
    if source is not None:
        clauses.append("source = ?")
        params.append(source)
    return [
        int(row[0])
        for row in conn.execute(
            f"SELECT id FROM analysis_jobs WHERE {' AND '.join(clauses)} ORDER BY id", params
        )
    ]


def active_jobs(conn: sqlite3.Connection, *, source: str | None = None) -> list[Job]:
    """Running and interrupted jobs (optionally of one source)."""
    sql = "SELECT * FROM analysis_jobs WHERE status IN (?, ?)"
    params: list[Any] = list(ACTIVE_JOB_STATUSES)
    if source is not None:
        sql += " AND source = ?"
        params.append(source)
    return _jobs(conn.execute(sql + " ORDER BY id", params))


def job_prune_effects(conn: sqlite3.Connection, job_ids: Sequence[int]) -> dict[str, int]:
    """What deleting these jobs does: their stock rows go with them (ON DELETE CASCADE); the
    results they wrote stay, with job_id set to NULL; watchlist rows lose their last-job link."""
    ids = json.dumps(list(job_ids))
    selected = "IN (SELECT value FROM json_each(?))"

    def count(sql: str) -> int:
        return int(conn.execute(sql, (ids,)).fetchone()[0])

    return {
        "jobs": len(job_ids),
        "details_deleted": count(
            f"SELECT count(*) FROM analysis_jobs_details WHERE job_id {selected}"
        ),
        "results_unlinked": count(f"SELECT count(*) FROM analysis_results WHERE job_id {selected}"),
        "watchlist_unlinked": count(f"SELECT count(*) FROM watchlist WHERE last_job_id {selected}"),
    }


def delete_jobs(conn: sqlite3.Connection, job_ids: Sequence[int]) -> int:
    """Delete jobs; the foreign keys do the rest (see job_prune_effects)."""
    return conn.execute(
        "DELETE FROM analysis_jobs WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps(list(job_ids)),),
    ).rowcount


def demo_prune_effects(conn: sqlite3.Connection) -> dict[str, int]:
    """What deleting every demo result does: its raw data goes with it (CASCADE); stock rows
    and watchlist rows that point at it get result_id / last_result_id NULL (SET NULL)."""
    demo = "SELECT id FROM analysis_results WHERE analysis_source = 'demo'"
    results, raw_bytes = conn.execute(
        "SELECT count(*), coalesce(sum(length(CAST(raw.payload AS BLOB))), 0)"
        " FROM analysis_results AS r LEFT JOIN analysis_raw_data AS raw ON raw.result_id = r.id"
        " WHERE r.analysis_source = 'demo'"
    ).fetchone()
    return {
        "results_deleted": int(results),
        "raw_bytes_deleted": int(raw_bytes),
        "details_unlinked": int(
            conn.execute(
                f"SELECT count(*) FROM analysis_jobs_details WHERE result_id IN ({demo})"
            ).fetchone()[0]
        ),
        "watchlist_unlinked": int(
            conn.execute(
                f"SELECT count(*) FROM watchlist WHERE last_result_id IN ({demo})"
            ).fetchone()[0]
        ),
    }


def delete_demo_results(conn: sqlite3.Connection) -> int:
    return conn.execute("DELETE FROM analysis_results WHERE analysis_source = 'demo'").rowcount


_FUTURE = "SELECT id FROM analysis_results WHERE analysis_date > ?"


def future_prune_effects(conn: sqlite3.Connection, after_date: str) -> dict[str, Any]:
    """What deleting the results dated after ``after_date`` (the current market date) does:
    their raw data goes with them (CASCADE); the stock rows that wrote them become failed
    (``bad_data``), their jobs' counts follow; watchlist rows lose their last-result link."""
    results, raw_bytes = conn.execute(
        "SELECT count(*), coalesce(sum(length(CAST(raw.payload AS BLOB))), 0)"
        " FROM analysis_results AS r LEFT JOIN analysis_raw_data AS raw ON raw.result_id = r.id"
        " WHERE r.analysis_date > ?",
        (after_date,),
    ).fetchone()
    jobs = [
        int(row[0])
        for row in conn.execute(
            f"SELECT DISTINCT job_id FROM analysis_jobs_details WHERE result_id IN ({_FUTURE})"
            " ORDER BY job_id",
            (after_date,),
        )
    ]
    return {
        "results_deleted": int(results),
        "raw_bytes_deleted": int(raw_bytes),
        "details_failed": int(
            conn.execute(
                f"SELECT count(*) FROM analysis_jobs_details WHERE result_id IN ({_FUTURE})",
                (after_date,),
            ).fetchone()[0]
        ),
        "job_ids": jobs,
        "watchlist_unlinked": int(
            conn.execute(
                f"SELECT count(*) FROM watchlist WHERE last_result_id IN ({_FUTURE})",
                (after_date,),
            ).fetchone()[0]
        ),
    }


def delete_future_results(conn: sqlite3.Connection, after_date: str, message: str) -> int:
    """Delete the results dated after ``after_date``; each stock row that wrote one is failed
    with ``bad_data`` and ``message`` (so no stock stays "succeeded" without its result), its
    job's counts follow, and a finished job's status is what those counts now say."""
    details = conn.execute(
        f"SELECT id, job_id FROM analysis_jobs_details WHERE result_id IN ({_FUTURE})",
        (after_date,),
    ).fetchall()
    for detail_id, job_id in details:
        _set_stock_status(
            conn, job_id, detail_id, "failed", result_id=None, error_kind="bad_data",
            error_message=message, note=None,
        )  # fmt: skip
    for job_id in sorted({job_id for _, job_id in details}):
        conn.execute(
            "UPDATE analysis_jobs SET status = CASE WHEN failed = 0 THEN 'succeeded'"
            " WHEN succeeded + skipped > 0 THEN 'partial' ELSE 'failed' END"
            f" WHERE id = ? AND status IN ({', '.join('?' * len(TERMINAL_JOB_STATUSES))})",
            (job_id, *TERMINAL_JOB_STATUSES),
        )
    return conn.execute(
        "DELETE FROM analysis_results WHERE analysis_date > ?", (after_date,)
    ).rowcount


def _raw_to_prune(before_date: str) -> str:
    return (
        "SELECT raw.id FROM analysis_results AS r"
        " JOIN analysis_raw_data AS raw ON raw.result_id = r.id"
        f" WHERE r.analysis_date < ? AND json_extract(raw.payload, '$.{RAW_PRUNED_KEY}') IS NULL"
    )


def raw_prune_effects(conn: sqlite3.Connection, before_date: str) -> dict[str, int]:
    """How many results with a market date before ``before_date`` still carry full raw data,
    and how many bytes of it."""
    rows, raw_bytes = conn.execute(
        "SELECT count(*), coalesce(sum(length(CAST(payload AS BLOB))), 0)"
        f" FROM analysis_raw_data WHERE id IN ({_raw_to_prune(before_date)})",
        (before_date,),
    ).fetchone()
    return {"results": int(rows), "raw_bytes_deleted": int(raw_bytes)}


def prune_raw(conn: sqlite3.Connection, before_date: str, pruned_at: str) -> int:
    """Replace the raw data of results older than ``before_date`` by ``{"pruned_at": …}``.

    The result rows are untouched; re-analysing that ticker and date writes full raw data
    again (save_result's upsert).
    """
    return conn.execute(
        f"UPDATE analysis_raw_data SET payload = json_object('{RAW_PRUNED_KEY}', ?)"
        f" WHERE id IN ({_raw_to_prune(before_date)})",
        (pruned_at, before_date),
    ).rowcount


def vacuum(conn: sqlite3.Connection) -> None:
    """Rebuild the file without its free pages. VACUUM cannot run inside a transaction; in WAL
    mode the rebuilt pages land in the WAL first, so checkpoint to shrink the file itself."""
    conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def storage(conn: sqlite3.Connection) -> dict[str, int]:
    """Pages in the file and how many of them are free (what VACUUM would give back)."""
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
    free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    return {"page_size": page_size, "pages": pages, "free_pages": free}


# --- database-wide ----------------------------------------------------------------------------

TABLES = ("analysis_jobs", "analysis_jobs_details", "analysis_results", "analysis_raw_data",
          "watchlist")  # fmt: skip


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {
        table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]) for table in TABLES
    }


def check(conn: sqlite3.Connection, *, newest_date: str) -> dict[str, list[Any]]:
    """``integrity_check``, ``foreign_key_check`` and results dated after ``newest_date`` (the
    current market date: an earlier version accepted such bars); empty lists mean a clean
    database."""
    integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    return {
        "integrity": [] if integrity == ["ok"] else integrity,
        "foreign_keys": [list(row) for row in conn.execute("PRAGMA foreign_key_check")],
        "future_dated": [
            {"ticker": ticker, "analysis_date": date}
            for ticker, date in conn.execute(
                "SELECT ticker, analysis_date FROM analysis_results WHERE analysis_date > ?"
                " ORDER BY analysis_date, ticker",
                (newest_date,),
            )
        ],
    }
