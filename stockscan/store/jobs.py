"""Jobs and the stocks of a job: every write of the job loop, in the caller's transaction
(``db.transaction()``, opened by the job loop, which decides where transactions begin and end).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, NamedTuple, TypedDict, cast

from stockscan.store.base import (
    ACTIVE_JOB_STATUSES,
    COUNTED_STOCK_STATUSES,
    _decoded,
    _dicts,
    _rows,
    now_iso,
)
from stockscan.store.screens import write_indicators

if TYPE_CHECKING:
    from stockscan.analysis.model import Analysis, Side, Verdict


class Job(TypedDict):
    """A row of analysis_jobs, ``params`` decoded (the only place that parses them)."""

    id: int
    request_key: str
    status: str  # running, interrupted, succeeded, partial, failed
    source: Literal["yahoo", "demo", "csv", "legacy"]
    params: dict[str, Any]
    run_date: str
    total: int
    succeeded: int
    failed: int
    skipped: int
    attempts: int
    owner_pid: int | None  # None for a job imported from the old system
    owner_host: str | None
    message: str | None
    created_at: str
    started_at: str
    finished_at: str | None
    legacy_job_id: str | None


class LiveJob(Job):
    """A job with what its stored status means now (``jobs.with_liveness``)."""

    owner_alive: bool | None  # None unless the job is stored running
    effective_status: str  # interrupted for a running job whose owner is gone


class JobStock(TypedDict):
    """A stock of a job (job_stocks), with the result it wrote: the result's columns are None
    while it has none."""

    ticker: str
    position: int
    status: str  # pending, running, succeeded, failed, skipped
    attempts: int
    error_kind: str | None
    error_message: str | None
    note: str | None
    result_id: int | None
    quantity: int | None
    started_at: str | None
    finished_at: str | None
    analysis_date: str | None
    score: float | None
    verdict: Verdict | None
    side: Side | None
    close: float | None
    entry: float | None
    stop: float | None
    target: float | None
    reward_risk: float | None
    analysis_source: str | None
    result_status: str | None
    scoring_version: str | None


def _jobs(cursor: sqlite3.Cursor) -> list[Job]:
    rows = _dicts(cursor)
    for row in rows:
        row["params"] = _decoded(row["params"])
    return cast("list[Job]", rows)


# --- jobs -----------------------------------------------------------------------------------


def find_active_job(conn: sqlite3.Connection, request_key: str) -> dict[str, Any] | None:
    """The running or interrupted job of this request: a Job, typed as a plain dict until
    legacy.Importer._lock_job takes a Job (issue 16: then return ``Job | None``)."""
    found = _jobs(
        conn.execute(
            "SELECT * FROM analysis_jobs WHERE request_key = ? AND status IN (?, ?)",
            (request_key, *ACTIVE_JOB_STATUSES),
        )
    )
    return dict(found[0]) if found else None


def running_jobs(conn: sqlite3.Connection) -> list[Job]:
    return _jobs(conn.execute("SELECT * FROM analysis_jobs WHERE status = 'running'"))


def create_job(
    conn: sqlite3.Connection,
    *,
    request_key: str,
    source: str,
    params: dict[str, Any],
    run_date: str,
    tickers: Sequence[str],
    owner_pid: int,
    owner_host: str,
) -> int:
    """Insert a running job and one pending detail per ticker, in the caller's transaction."""
    now = now_iso()
    row = conn.execute(
        "INSERT INTO analysis_jobs (request_key, status, source, params, run_date, total,"
        " owner_pid, owner_host, created_at, started_at)"
        " VALUES (?, 'running', ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        (
            request_key,
            source,
            json.dumps(params, sort_keys=True),
            run_date,
            len(tickers),
            owner_pid,
            owner_host,
            now,
            now,
        ),
    ).fetchone()
    job_id = int(row[0])
    # executemany binds one row at a time, so any number of tickers stays under SQLite's
    # variable limit.
    conn.executemany(
        "INSERT INTO analysis_jobs_details (job_id, ticker, position) VALUES (?, ?, ?)",
        ((job_id, ticker, position) for position, ticker in enumerate(tickers, start=1)),
    )
    return job_id


def adopt_job(conn: sqlite3.Connection, job_id: int, *, owner_pid: int, owner_host: str) -> None:
    """Take over a job whose owner is gone: this process now runs it.

    A detail left ``running`` by the dead owner was never committed as done: it goes back to
    pending and is redone.
    """
    conn.execute(
        "UPDATE analysis_jobs SET status = 'running', owner_pid = ?, owner_host = ?,"
        " attempts = attempts + 1, message = NULL, started_at = ?, finished_at = NULL"
        " WHERE id = ?",
        (owner_pid, owner_host, now_iso(), job_id),
    )
    conn.execute(
        "UPDATE analysis_jobs_details SET status = 'pending', result_id = NULL, quantity = NULL"
        " WHERE job_id = ? AND status = 'running'",
        (job_id,),
    )


def interrupt_job(conn: sqlite3.Connection, job_id: int, message: str) -> None:
    """Leave a job resumable: status interrupted, its running stock back to pending. A job
    that has already finished stays as it is (the interrupt came after its last commit)."""
    conn.execute(
        "UPDATE analysis_jobs_details SET status = 'pending', finished_at = NULL,"
        " result_id = NULL, quantity = NULL WHERE job_id = ? AND status = 'running'",
        (job_id,),
    )
    conn.execute(
        "UPDATE analysis_jobs SET status = 'interrupted', message = ?, finished_at = ?"
        " WHERE id = ? AND status IN ('running', 'interrupted')",
        (message, now_iso(), job_id),
    )


def finish_job(conn: sqlite3.Connection, job_id: int) -> Job:
    """Close a job whose stocks are all done; its status follows from the counts."""
    job = get_job(conn, job_id)
    assert job is not None
    done = job["succeeded"] + job["skipped"]
    if job["failed"] == 0:
        status = "succeeded"
    elif done > 0:
        status = "partial"
    else:
        status = "failed"
    conn.execute(
        "UPDATE analysis_jobs SET status = ?, finished_at = ?, message = NULL WHERE id = ?",
        (status, now_iso(), job_id),
    )
    finished = get_job(conn, job_id)
    assert finished is not None
    return finished


def get_job(conn: sqlite3.Connection, job_id: int) -> Job | None:
    found = _jobs(conn.execute("SELECT * FROM analysis_jobs WHERE id = ?", (job_id,)))
    return found[0] if found else None


def list_jobs(
    conn: sqlite3.Connection,
    *,
    limit: int | None = 20,
    status: str | None = None,
    statuses: Sequence[str] = (),
) -> list[Job]:
    """Jobs newest first, of ``status`` or of any of ``statuses`` (as stored); ``limit``
    None for all of them."""
    wanted = [status] if status else list(statuses)
    where = f" WHERE status IN ({', '.join('?' * len(wanted))})" if wanted else ""
    cursor = conn.execute(
        f"SELECT * FROM analysis_jobs{where} ORDER BY id DESC LIMIT ?",
        (*wanted, -1 if limit is None else limit),
    )
    return _jobs(cursor)


def count_jobs(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM analysis_jobs").fetchone()[0])


def job_stocks(conn: sqlite3.Connection, job_id: int) -> list[JobStock]:
    """Every stock of a job in request order, with the result it wrote (if any)."""
    return _rows(
        JobStock,
        conn.execute(
            "SELECT d.ticker, d.position, d.status, d.attempts, d.error_kind, d.error_message,"
            " d.note,"
            " d.result_id, d.quantity, d.started_at, d.finished_at,"
            " r.analysis_date, r.score, r.verdict, r.side, r.close, r.entry, r.stop, r.target,"
            " r.reward_risk, r.analysis_source, r.status AS result_status, r.scoring_version"
            " FROM analysis_jobs_details AS d"
            " LEFT JOIN analysis_results AS r ON r.id = d.result_id"
            " WHERE d.job_id = ? ORDER BY d.position",
            (job_id,),
        ),
    )


# --- the stocks of a job ---------------------------------------------------------------------


class PendingStock(NamedTuple):
    detail_id: int
    ticker: str
    position: int
    attempts: int
    error_kind: str | None
    error_message: str | None


def unfinished_stocks(conn: sqlite3.Connection, job_id: int) -> list[PendingStock]:
    """Every stock of the job not yet succeeded, in request order."""
    return [
        PendingStock(*row)
        for row in conn.execute(
            "SELECT id, ticker, position, attempts, error_kind, error_message"
            " FROM analysis_jobs_details"
            " WHERE job_id = ? AND status <> 'succeeded' ORDER BY position",
            (job_id,),
        )
    ]


def _set_stock_status(
    conn: sqlite3.Connection, job_id: int, detail_id: int, new_status: str, **fields: Any
) -> None:
    """Move one detail to ``new_status`` and keep the job's counts equal to its details.

    Every write of a detail's status goes through here, so "succeeded ⇔ it points at a result"
    holds on every path: any other status drops the result (and the quantity sized from it),
    e.g. a stock that succeeded and is then started again and fails."""
    if new_status != "succeeded":
        fields = {**fields, "result_id": None, "quantity": None}
    old = conn.execute(
        "SELECT status FROM analysis_jobs_details WHERE id = ?", (detail_id,)
    ).fetchone()[0]
    assignments = ", ".join(f"{name} = ?" for name in fields)
    conn.execute(
        f"UPDATE analysis_jobs_details SET status = ?{', ' if fields else ''}{assignments}"
        " WHERE id = ?",
        (new_status, *fields.values(), detail_id),
    )
    if old != new_status:
        for status, delta in ((old, -1), (new_status, 1)):
            if status in COUNTED_STOCK_STATUSES:
                conn.execute(
                    f"UPDATE analysis_jobs SET {status} = {status} + ? WHERE id = ?",
                    (delta, job_id),
                )


def start_stock(conn: sqlite3.Connection, job_id: int, detail_id: int) -> None:
    conn.execute(
        "UPDATE analysis_jobs_details SET attempts = attempts + 1 WHERE id = ?", (detail_id,)
    )
    _set_stock_status(
        conn,
        job_id,
        detail_id,
        "running",
        started_at=now_iso(),
        finished_at=None,
        error_kind=None,
        error_message=None,
    )


def fail_stock(
    conn: sqlite3.Connection, job_id: int, detail_id: int, ticker: str, kind: str, message: str
) -> None:
    now = now_iso()
    _set_stock_status(
        conn, job_id, detail_id, "failed", error_kind=kind, error_message=message, finished_at=now
    )
    _touch_watchlist(conn, ticker, job_id=job_id, result_id=None, status="failed", now=now)


def save_result(
    conn: sqlite3.Connection,
    *,
    job_id: int,
    detail_id: int,
    ticker: str,
    source: str,
    analysis: Analysis,
    raw_payload: str,
    quantity: int,
    fetched_at: str | None = None,
    source_version: str | None = None,
    auto_adjust: bool | None = None,
) -> tuple[int | None, str | None]:
    """Upsert the result, its raw data and its indicator row and mark the stock succeeded;
    or skip it.

    Returns (result id, None), or (None, reason) when the stock was skipped because a demo
    result may not replace a real one. The rule lives in the upsert's WHERE, so no race between
    a check and the write can bypass it.
    """
    now = now_iso()
    plan = analysis.plan
    row = conn.execute(
        "INSERT INTO analysis_results (job_id, ticker, analysis_date, status, score, verdict,"
        " side, close, entry, stop, target, reward_risk, analysis_source, scoring_version,"
        " bars_used, created_at, updated_at, fetched_at, source_version, auto_adjust)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (ticker, analysis_date) DO UPDATE SET"
        " job_id = excluded.job_id, status = excluded.status, score = excluded.score,"
        " verdict = excluded.verdict, side = excluded.side, close = excluded.close,"
        " entry = excluded.entry, stop = excluded.stop, target = excluded.target,"
        " reward_risk = excluded.reward_risk, analysis_source = excluded.analysis_source,"
        " scoring_version = excluded.scoring_version, bars_used = excluded.bars_used,"
        " updated_at = excluded.updated_at, fetched_at = excluded.fetched_at,"
        " source_version = excluded.source_version, auto_adjust = excluded.auto_adjust,"
        # A result imported from the old system becomes stockscan's own once re-analysed.
        " legacy_result_id = NULL"
        " WHERE NOT (excluded.analysis_source = 'demo'"
        "            AND analysis_results.analysis_source <> 'demo')"
        " RETURNING id",
        (
            job_id,
            ticker,
            analysis.analysis_date.isoformat(),
            "complete" if analysis.last_bar_complete else "partial",
            analysis.score,
            analysis.verdict,
            plan.side,
            analysis.close,
            plan.entry,
            plan.stop,
            plan.target,
            plan.reward_risk,
            source,
            analysis.scoring_version,
            analysis.bars_used,
            now,
            now,
            fetched_at,
            source_version,
            None if auto_adjust is None else int(auto_adjust),
        ),
    ).fetchone()
    if row is None:
        existing = conn.execute(
            "SELECT analysis_source FROM analysis_results WHERE ticker = ? AND analysis_date = ?",
            (ticker, analysis.analysis_date.isoformat()),
        ).fetchone()[0]
        message = (
            f"a {existing} result for {analysis.analysis_date} exists;"
            " demo data never replaces real data"
        )
        _set_stock_status(
            conn,
            job_id,
            detail_id,
            "skipped",
            error_kind="demo_over_real",
            error_message=message,
            finished_at=now,
        )
        _touch_watchlist(conn, ticker, job_id=job_id, result_id=None, status="skipped", now=now)
        return None, message
    result_id = int(row[0])
    conn.execute(
        "INSERT INTO analysis_raw_data (result_id, payload, created_at) VALUES (?, ?, ?)"
        " ON CONFLICT (result_id) DO UPDATE SET payload = excluded.payload,"
        " created_at = excluded.created_at",
        (result_id, raw_payload, now),
    )
    write_indicators(conn, result_id)
    _set_stock_status(
        conn,
        job_id,
        detail_id,
        "succeeded",
        result_id=result_id,
        quantity=quantity,
        finished_at=now,
        error_kind=None,
        error_message=None,
    )
    _touch_watchlist(conn, ticker, job_id=job_id, result_id=result_id, status="succeeded", now=now)
    return result_id, None


def _touch_watchlist(
    conn: sqlite3.Connection,
    ticker: str,
    *,
    job_id: int,
    result_id: int | None,
    status: str,
    now: str,
) -> None:
    """Link a followed ticker to this analysis. A failure keeps the last good result linked."""
    conn.execute(
        "UPDATE watchlist SET last_job_id = ?, last_analyzed_at = ?, analysis_status = ?,"
        " last_result_id = coalesce(?, last_result_id) WHERE ticker = ?",
        (job_id, now, status, result_id, ticker),
    )


def keep_result(
    conn: sqlite3.Connection,
    *,
    job_id: int,
    detail_id: int,
    ticker: str,
    result_id: int,
    quantity: int,
    note: str,
) -> None:
    """Mark a stock succeeded with a result it did not need to rewrite (no new bars)."""
    now = now_iso()
    _set_stock_status(
        conn, job_id, detail_id, "succeeded", result_id=result_id, quantity=quantity,
        finished_at=now, error_kind=None, error_message=None, note=note,
    )  # fmt: skip
    _touch_watchlist(conn, ticker, job_id=job_id, result_id=result_id, status="succeeded", now=now)


def newest_job_id(conn: sqlite3.Connection) -> int | None:
    """The id of the newest job (the last scan, for `report --latest`)."""
    found = conn.execute("SELECT max(id) FROM analysis_jobs").fetchone()[0]
    return None if found is None else int(found)
