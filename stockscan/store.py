"""All SQL of stockscan. Every function takes a connection; writers expect to be called inside
``db.transaction()`` by the job loop, which decides where transactions begin and end.

Timestamps are ISO-8601 UTC text; market dates are ``YYYY-MM-DD``.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from stockscan.analysis.model import Analysis

ACTIVE_JOB_STATUSES = ("running", "interrupted")
TERMINAL_JOB_STATUSES = ("succeeded", "partial", "failed")
COUNTED_STOCK_STATUSES = ("succeeded", "failed", "skipped")
REAL_SOURCES = ("yahoo", "csv")


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


def _dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    # Not strict=True: a row always has as many values as the cursor has columns, and the
    # check costs a tenth of a 2,000-row listing.
    return [dict(zip(names, row)) for row in cursor]  # noqa: B905


def _one(cursor: sqlite3.Cursor) -> dict[str, Any] | None:
    rows = _dicts(cursor)
    return rows[0] if rows else None


# --- jobs -----------------------------------------------------------------------------------


def find_active_job(conn: sqlite3.Connection, request_key: str) -> dict[str, Any] | None:
    return _one(
        conn.execute(
            "SELECT * FROM analysis_jobs WHERE request_key = ? AND status IN (?, ?)",
            (request_key, *ACTIVE_JOB_STATUSES),
        )
    )


def running_jobs(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    return _dicts(conn.execute("SELECT * FROM analysis_jobs WHERE status = 'running'"))


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


def finish_job(conn: sqlite3.Connection, job_id: int) -> dict[str, Any]:
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


def get_job(conn: sqlite3.Connection, job_id: int) -> dict[str, Any] | None:
    return _one(conn.execute("SELECT * FROM analysis_jobs WHERE id = ?", (job_id,)))


def list_jobs(
    conn: sqlite3.Connection,
    *,
    limit: int | None = 20,
    status: str | None = None,
    statuses: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Jobs newest first, of ``status`` or of any of ``statuses`` (as stored); ``limit``
    None for all of them."""
    wanted = [status] if status else list(statuses)
    where = f" WHERE status IN ({', '.join('?' * len(wanted))})" if wanted else ""
    cursor = conn.execute(
        f"SELECT * FROM analysis_jobs{where} ORDER BY id DESC LIMIT ?",
        (*wanted, -1 if limit is None else limit),
    )
    return _dicts(cursor)


def count_jobs(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT count(*) FROM analysis_jobs").fetchone()[0])


def job_stocks(conn: sqlite3.Connection, job_id: int) -> list[dict[str, Any]]:
    """Every stock of a job in request order, with the result it wrote (if any)."""
    return _dicts(
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
        )
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
    """Upsert the result and its raw data and mark the stock succeeded; or skip it.

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


# --- results --------------------------------------------------------------------------------
# Read queries behind `stockscan results`. Each is built by a *_query function so that a test
# can run EXPLAIN QUERY PLAN on exactly the SQL the command runs. None of them reads
# analysis_raw_data except result_detail (`results show`).

RESULT_COLUMNS = (
    "id", "ticker", "analysis_date", "score", "verdict", "side", "close", "entry", "stop",
    "target", "reward_risk", "analysis_source", "status", "scoring_version", "bars_used",
    "job_id", "created_at", "updated_at",
)  # fmt: skip
_SELECT_RESULT = (
    ", ".join(f"r.{c}" for c in RESULT_COLUMNS) + ", r.analysis_source = 'demo' AS demo"
)


def _result_rows(cursor: sqlite3.Cursor) -> Iterator[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    for row in cursor:
        record = dict(zip(names, row, strict=True))
        record["demo"] = bool(record["demo"])
        yield record


def _filters(
    *, verdicts: Sequence[str], min_score: float | None, source: str | None
) -> tuple[str, list[Any]]:
    """AND-clauses on ``r`` for the listing filters, with their parameters."""
    clauses: list[str] = []
    params: list[Any] = []
    if verdicts:
        clauses.append("r.verdict IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(list(verdicts)))
    if min_score is not None:
        clauses.append("r.score >= ?")
        params.append(min_score)
    if source is not None:
        clauses.append("r.analysis_source = ?")
        params.append(source)
    return "".join(f" AND {c}" for c in clauses), params


def latest_query(
    tickers: Sequence[str] | None,
    *,
    as_of: str | None = None,
    verdicts: Sequence[str] = (),
    min_score: float | None = None,
    source: str | None = None,
) -> tuple[str, list[Any]]:
    """The newest result per ticker (on or before ``as_of``), best score first.

    Every ticker costs two index seeks whatever the number of results: without a ticker list,
    the distinct tickers come from a skip-scan of idx_results_ticker_date (a recursive CTE
    that seeks to the next ticker), then each ticker's newest row is one backwards seek of
    the same index. Filters apply to that newest row, not to older ones.
    """
    params: list[Any] = []
    if tickers is None:
        wanted = (
            "WITH RECURSIVE wanted(ticker) AS ("
            " SELECT min(ticker) FROM analysis_results"
            " UNION ALL"
            " SELECT (SELECT min(ticker) FROM analysis_results WHERE ticker > wanted.ticker)"
            " FROM wanted WHERE wanted.ticker IS NOT NULL)"
        )
    else:
        # json_each keeps any number of tickers to one bound parameter.
        wanted = "WITH wanted(ticker) AS (SELECT DISTINCT value FROM json_each(?))"
        params.append(json.dumps(list(tickers)))
    date_clause = ""
    if as_of is not None:
        date_clause = " AND analysis_date <= ?"
        params.append(as_of)
    where, filter_params = _filters(verdicts=verdicts, min_score=min_score, source=source)
    sql = (
        f"{wanted} SELECT {_SELECT_RESULT} FROM wanted"
        " JOIN analysis_results AS r ON r.id = ("
        " SELECT id FROM analysis_results"
        f" WHERE ticker = wanted.ticker{date_clause}"
        " ORDER BY analysis_date DESC LIMIT 1)"
        f" WHERE 1{where} ORDER BY r.score DESC, r.ticker"
    )
    return sql, params + filter_params


def latest_results(
    conn: sqlite3.Connection,
    tickers: Sequence[str] | None = None,
    *,
    as_of: str | None = None,
    verdicts: Sequence[str] = (),
    min_score: float | None = None,
    source: str | None = None,
) -> list[dict[str, Any]]:
    sql, params = latest_query(
        tickers, as_of=as_of, verdicts=verdicts, min_score=min_score, source=source
    )
    return list(_result_rows(conn.execute(sql, params)))


def tickers_without_results_query(
    tickers: Sequence[str], *, as_of: str | None = None
) -> tuple[str, list[Any]]:
    """Those of ``tickers`` with no result at all (on or before ``as_of``), in the order given."""
    sql = (
        "SELECT t.value FROM json_each(?) AS t WHERE NOT EXISTS (SELECT 1"
        " FROM analysis_results WHERE ticker = t.value AND analysis_date <= ?)"
        " ORDER BY t.key"
    )
    return sql, [json.dumps(list(tickers)), as_of or "9999-12-31"]


def tickers_without_results(
    conn: sqlite3.Connection, tickers: Sequence[str], *, as_of: str | None = None
) -> list[str]:
    sql, params = tickers_without_results_query(tickers, as_of=as_of)
    return [str(row[0]) for row in conn.execute(sql, params)]


def history_query(ticker: str, *, limit: int) -> tuple[str, list[Any]]:
    """A ticker's newest ``limit`` + 1 results, newest first: one backwards range of
    idx_results_ticker_date. The extra row is the one before the oldest shown, so that every
    row shown has its move."""
    sql = (
        f"SELECT {_SELECT_RESULT} FROM analysis_results AS r WHERE r.ticker = ?"
        " ORDER BY r.analysis_date DESC LIMIT ?"
    )
    return sql, [ticker, limit + 1]


def result_history(conn: sqlite3.Connection, ticker: str, *, limit: int) -> list[dict[str, Any]]:
    """Newest first, each row with ``score_change`` and ``previous_verdict`` from the analysis
    before it (None for the first analysis of the ticker). The moves are taken here rather
    than with lag(): a window over the rows would sort them twice, which costs more than the
    query itself."""
    sql, params = history_query(ticker, limit=limit)
    rows = list(_result_rows(conn.execute(sql, params)))
    for index, row in enumerate(rows):
        older = rows[index + 1] if index + 1 < len(rows) else None
        row["score_change"] = None if older is None else row["score"] - older["score"]
        row["previous_verdict"] = None if older is None else older["verdict"]
    return rows[:limit]


def detail_query(ticker: str, *, as_of: str | None = None) -> tuple[str, list[Any]]:
    """One result in full: its raw data (the only read of analysis_raw_data), and the job that
    wrote it with that job's quantity for this ticker."""
    sql = (
        f"SELECT {_SELECT_RESULT}, raw.payload AS raw_payload, d.quantity,"
        " r.fetched_at, r.source_version, r.auto_adjust,"
        " j.status AS job_status, j.params AS job_params"
        " FROM analysis_results AS r"
        " LEFT JOIN analysis_raw_data AS raw ON raw.result_id = r.id"
        " LEFT JOIN analysis_jobs_details AS d ON d.job_id = r.job_id AND d.ticker = r.ticker"
        " LEFT JOIN analysis_jobs AS j ON j.id = r.job_id"
        " WHERE r.ticker = ? AND r.analysis_date <= ?"
        " ORDER BY r.analysis_date DESC LIMIT 1"
    )
    return sql, [ticker, as_of or "9999-12-31"]


def result_detail(
    conn: sqlite3.Connection, ticker: str, *, as_of: str | None = None
) -> dict[str, Any] | None:
    sql, params = detail_query(ticker, as_of=as_of)
    return next(_result_rows(conn.execute(sql, params)), None)


def export_query(
    tickers: Sequence[str] | None = None,
    *,
    since: str | None = None,
    until: str | None = None,
    verdicts: Sequence[str] = (),
    min_score: float | None = None,
    source: str | None = None,
) -> tuple[str, list[Any]]:
    """Every result matching the filters, by ticker then date: the order of
    idx_results_ticker_date, so SQLite streams rows without sorting them first."""
    clauses: list[str] = []
    params: list[Any] = []
    if tickers is not None:
        clauses.append("r.ticker IN (SELECT value FROM json_each(?))")
        params.append(json.dumps(sorted(set(tickers))))
    if since is not None:
        clauses.append("r.analysis_date >= ?")
        params.append(since)
    if until is not None:
        clauses.append("r.analysis_date <= ?")
        params.append(until)
    where, filter_params = _filters(verdicts=verdicts, min_score=min_score, source=source)
    sql = (
        f"SELECT {_SELECT_RESULT} FROM analysis_results AS r"
        f" WHERE {' AND '.join(clauses) or '1'}{where}"
        " ORDER BY r.ticker, r.analysis_date"
    )
    return sql, params + filter_params


def iter_results(
    conn: sqlite3.Connection,
    tickers: Sequence[str] | None = None,
    *,
    since: str | None = None,
    until: str | None = None,
    verdicts: Sequence[str] = (),
    min_score: float | None = None,
    source: str | None = None,
) -> Iterator[dict[str, Any]]:
    """Stream results one row at a time (constant memory at any size)."""
    sql, params = export_query(
        tickers, since=since, until=until, verdicts=verdicts, min_score=min_score, source=source
    )
    yield from _result_rows(conn.execute(sql, params))


# --- retention ------------------------------------------------------------------------------
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


def active_jobs(conn: sqlite3.Connection, *, source: str | None = None) -> list[dict[str, Any]]:
    """Running and interrupted jobs (optionally of one source)."""
    sql = "SELECT * FROM analysis_jobs WHERE status IN (?, ?)"
    params: list[Any] = list(ACTIVE_JOB_STATUSES)
    if source is not None:
        sql += " AND source = ?"
        params.append(source)
    return _dicts(conn.execute(sql + " ORDER BY id", params))


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


# --- legacy import ----------------------------------------------------------------------------
# The writes of `stockscan db import-legacy` (stockscan.legacy reads the old file itself: its
# schema is foreign). Each runs in the caller's transaction and writes only what is absent,
# so a second import writes nothing twice.


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


def watchlist_has(conn: sqlite3.Connection, ticker: str) -> bool:
    row = conn.execute("SELECT 1 FROM watchlist WHERE ticker = ?", (ticker,)).fetchone()
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


def legacy_job_exists(conn: sqlite3.Connection, legacy_job_id: str) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM analysis_jobs WHERE legacy_job_id = ?", (legacy_job_id,)
        ).fetchone()
        is not None
    )


def result_on(conn: sqlite3.Connection, ticker: str, analysis_date: str) -> tuple[int, bool] | None:
    """(id, imported from the old system?) of the result for ``ticker`` on that market date."""
    row = conn.execute(
        "SELECT id, legacy_result_id IS NOT NULL FROM analysis_results"
        " WHERE ticker = ? AND analysis_date = ?",
        (ticker, analysis_date),
    ).fetchone()
    return None if row is None else (int(row[0]), bool(row[1]))


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
    """An old result and its raw data. The caller has checked that the ticker and date are
    free (``result_on``) in the same transaction, so this never meets a conflict."""
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


def finish_legacy_import(conn: sqlite3.Connection, job_id: int, message: str) -> dict[str, Any]:
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


# --- watchlist -------------------------------------------------------------------------------


def add_to_watchlist(
    conn: sqlite3.Connection, entries: Sequence[tuple[str, str | None]]
) -> list[str]:
    """Follow each (ticker, name); return the tickers that were new. A ticker already followed
    is not added twice; a name given for it replaces the old one. A new entry is linked to the
    ticker's newest result at once (one index seek), so `watchlist list` shows it."""
    added = []
    now = now_iso()
    for ticker, name in entries:
        if conn.execute("SELECT 1 FROM watchlist WHERE ticker = ?", (ticker,)).fetchone():
            if name is not None:
                conn.execute("UPDATE watchlist SET name = ? WHERE ticker = ?", (name, ticker))
            continue
        latest = conn.execute(
            "SELECT id, job_id, updated_at FROM analysis_results WHERE ticker = ?"
            " ORDER BY analysis_date DESC LIMIT 1",
            (ticker,),
        ).fetchone()
        result_id, job_id, analysed_at = latest or (None, None, None)
        conn.execute(
            "INSERT INTO watchlist (ticker, name, added_at, last_result_id, last_job_id,"
            " last_analyzed_at, analysis_status) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (ticker, name, now, result_id, job_id, analysed_at, "succeeded" if latest else None),
        )
        added.append(ticker)
    return added


def remove_from_watchlist(conn: sqlite3.Connection, tickers: Sequence[str]) -> list[str]:
    removed = []
    for ticker in tickers:
        if conn.execute(
            "DELETE FROM watchlist WHERE ticker = ? RETURNING id", (ticker,)
        ).fetchone():
            removed.append(ticker)
    return removed


def watchlist_tickers(conn: sqlite3.Connection) -> list[str]:
    """The followed tickers, in the order they were added."""
    return [row[0] for row in conn.execute("SELECT ticker FROM watchlist ORDER BY id")]


def newest_market_date(conn: sqlite3.Connection) -> str | None:
    """The newest analysis date of any result (an index seek on idx_results_date)."""
    return conn.execute("SELECT max(analysis_date) FROM analysis_results").fetchone()[0]


def watchlist_rows(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """Each followed ticker with its latest analysis, through the watchlist's own links:
    one primary-key lookup per row, never a scan of the results."""
    return _dicts(
        conn.execute(
            # Only what the listing shows: at 2,000 rows, each column costs Python time.
            # (The result's id is left out: `results show TICKER` finds it by ticker.)
            "SELECT w.ticker, w.name, w.last_job_id, w.last_analyzed_at, w.analysis_status,"
            " r.analysis_date, r.score, r.verdict, r.side, r.entry, r.stop, r.target,"
            " r.analysis_source"
            " FROM watchlist AS w LEFT JOIN analysis_results AS r ON r.id = w.last_result_id"
            " ORDER BY w.id"
        )
    )


def result_pairs(conn: sqlite3.Connection, *, since: str) -> list[dict[str, Any]]:
    """Each ticker whose newest result is dated ``since`` or later, with the result before it
    (``prev_*``; NULL for a first analysis). Index seeks only: idx_results_date finds the
    recent results, idx_results_ticker_date each one's newest and previous."""
    return _dicts(
        conn.execute(
            "SELECT l.ticker, l.analysis_date, l.score, l.verdict, l.side, l.close, l.entry,"
            " l.stop, l.target, l.analysis_source,"
            " p.analysis_date AS prev_date, p.score AS prev_score, p.verdict AS prev_verdict,"
            " p.side AS prev_side, p.entry AS prev_entry, p.stop AS prev_stop,"
            " p.target AS prev_target"
            " FROM analysis_results AS l"
            " LEFT JOIN analysis_results AS p ON p.id = ("
            "   SELECT id FROM analysis_results WHERE ticker = l.ticker"
            "   AND analysis_date < l.analysis_date ORDER BY analysis_date DESC LIMIT 1)"
            " WHERE l.analysis_date >= ? AND l.analysis_date = ("
            "   SELECT max(analysis_date) FROM analysis_results WHERE ticker = l.ticker)"
            " ORDER BY l.ticker",
            (since,),
        )
    )


def current_result(
    conn: sqlite3.Connection, ticker: str, analysis_date: str
) -> dict[str, Any] | None:
    """The result of ``ticker`` on ``analysis_date``, if there is one."""
    return _one(
        conn.execute(
            "SELECT id, analysis_source, scoring_version, status, side, entry, stop, target,"
            " reward_risk FROM analysis_results WHERE ticker = ? AND analysis_date = ?",
            (ticker, analysis_date),
        )
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


# --- price cache ----------------------------------------------------------------------------
# Daily bars cached per (source, ticker, auto_adjust) by stockscan.sources.cache. Callers wrap
# every write in transaction(); replace_price_bars and merge_price_bars also record the fetch,
# so the bars and "when were they fetched" can never disagree after a crash.

PriceBarRow = tuple[str, float, float, float, float, float]  # market_date, OHLC, volume


def price_fetch(
    conn: sqlite3.Connection, source: str, ticker: str, auto_adjust: bool
) -> dict[str, Any] | None:
    return _one(
        conn.execute(
            "SELECT fetched_at, newest_date, exchange_tz, source_version FROM price_fetches"
            " WHERE source = ? AND ticker = ? AND auto_adjust = ?",
            (source, ticker, int(auto_adjust)),
        )
    )


def price_bars(
    conn: sqlite3.Connection, source: str, ticker: str, auto_adjust: bool, *, since: str = ""
) -> list[PriceBarRow]:
    """Cached bars from ``since`` on (all when empty), oldest first."""
    rows: list[PriceBarRow] = conn.execute(
        "SELECT market_date, open, high, low, close, volume FROM price_bars"
        " WHERE source = ? AND ticker = ? AND auto_adjust = ? AND market_date >= ?"
        " ORDER BY market_date",
        (source, ticker, int(auto_adjust), since),
    ).fetchall()
    return rows


def merge_price_bars(
    conn: sqlite3.Connection,
    source: str,
    ticker: str,
    auto_adjust: bool,
    rows: Sequence[PriceBarRow],
    *,
    fetched_at: str,
    exchange_tz: str | None,
    source_version: str | None,
    replace: bool = False,
) -> None:
    """Upsert ``rows`` (after deleting the ticker's cached bars when ``replace``) and record
    the fetch. The newest date recorded is the newest bar cached, whatever ``rows`` holds."""
    key = (source, ticker, int(auto_adjust))
    if replace:
        conn.execute(
            "DELETE FROM price_bars WHERE source = ? AND ticker = ? AND auto_adjust = ?", key
        )
    conn.executemany(
        "INSERT INTO price_bars (source, ticker, auto_adjust, market_date, open, high, low,"
        " close, volume) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (source, ticker, auto_adjust, market_date) DO UPDATE SET"
        " open = excluded.open, high = excluded.high, low = excluded.low,"
        " close = excluded.close, volume = excluded.volume",
        [(*key, *row) for row in rows],
    )
    newest = conn.execute(
        "SELECT max(market_date) FROM price_bars WHERE source = ? AND ticker = ?"
        " AND auto_adjust = ?",
        key,
    ).fetchone()[0]
    if newest is None:
        return
    conn.execute(
        "INSERT INTO price_fetches (source, ticker, auto_adjust, fetched_at, newest_date,"
        " exchange_tz, source_version) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (source, ticker, auto_adjust) DO UPDATE SET"
        " fetched_at = excluded.fetched_at, newest_date = excluded.newest_date,"
        " exchange_tz = excluded.exchange_tz, source_version = excluded.source_version",
        (*key, fetched_at, newest, exchange_tz, source_version),
    )


def price_prune_effects(
    conn: sqlite3.Connection, *, unused_before: str | None, bars_before: str | None
) -> dict[str, int]:
    """What ``prune_prices`` would delete: the series (bars and fetch record) of tickers last
    fetched before ``unused_before``; the other tickers' bars dated before ``bars_before``,
    and the fetch records of the series that leaves with no bar."""
    series = bars = old_bars = 0
    if unused_before is not None:
        series, bars = conn.execute(
            "SELECT count(*), coalesce(sum((SELECT count(*) FROM price_bars AS b"
            "   WHERE b.source = f.source AND b.ticker = f.ticker"
            "   AND b.auto_adjust = f.auto_adjust)), 0)"
            " FROM price_fetches AS f WHERE f.fetched_at < ?",
            (unused_before,),
        ).fetchone()
    emptied = 0
    if bars_before is not None:
        old_bars = conn.execute(
            "SELECT count(*) FROM price_bars AS b WHERE b.market_date < ?"
            " AND NOT EXISTS (SELECT 1 FROM price_fetches AS f WHERE f.source = b.source"
            "   AND f.ticker = b.ticker AND f.auto_adjust = b.auto_adjust AND f.fetched_at < ?)",
            (bars_before, unused_before or ""),
        ).fetchone()[0]
        # A series whose every bar is that old (a delisted ticker still asked for) loses its
        # fetch record too: a record promises bars.
        emptied = conn.execute(
            "SELECT count(*) FROM price_fetches WHERE newest_date < ? AND fetched_at >= ?",
            (bars_before, unused_before or ""),
        ).fetchone()[0]
    return {
        "series_deleted": series,
        "series_bars_deleted": bars,
        "old_bars_deleted": old_bars,
        "series_emptied": emptied,
    }


def prune_prices(
    conn: sqlite3.Connection, *, unused_before: str | None, bars_before: str | None
) -> None:
    """Delete what ``price_prune_effects`` counts. A deleted series is fetched whole again the
    next time it is asked for; trimmed bars are older than any analysis reads."""
    if unused_before is not None:
        conn.execute(
            "DELETE FROM price_bars WHERE (source, ticker, auto_adjust) IN"
            " (SELECT source, ticker, auto_adjust FROM price_fetches WHERE fetched_at < ?)",
            (unused_before,),
        )
        conn.execute("DELETE FROM price_fetches WHERE fetched_at < ?", (unused_before,))
    if bars_before is not None:
        conn.execute("DELETE FROM price_bars WHERE market_date < ?", (bars_before,))
        conn.execute("DELETE FROM price_fetches WHERE newest_date < ?", (bars_before,))


def price_cache_size(conn: sqlite3.Connection) -> dict[str, int]:
    """What `db info` shows: cached bars and the tickers they belong to."""
    bars = int(conn.execute("SELECT count(*) FROM price_bars").fetchone()[0])
    tickers = int(conn.execute("SELECT count(*) FROM price_fetches").fetchone()[0])
    return {"bars": bars, "tickers": tickers}


# --- charts and report ---
# Reads behind `stockscan results chart` and `stockscan report` (stockscan.charts). The bars
# themselves come from the price cache above (yahoo) or are rebuilt by their source.


def newest_job_id(conn: sqlite3.Connection) -> int | None:
    """The id of the newest job (the last scan, for `report --latest`)."""
    found = conn.execute("SELECT max(id) FROM analysis_jobs").fetchone()[0]
    return None if found is None else int(found)


def report_stocks_query(job_id: int) -> tuple[str, list[Any]]:
    """Every stock of a job in request order with the result it wrote (if any), what the
    chart needs to find that result's bars (``auto_adjust``, the params of the job that wrote
    it), and the ticker's result before it (``prev_*``, the keys ``changes.events`` reads).
    Index seeks only: the job's detail rows, then primary keys and idx_results_ticker_date."""
    sql = (
        "SELECT d.ticker, d.position, d.status, d.attempts, d.error_kind, d.error_message,"
        " d.note, d.quantity, d.result_id,"
        " r.analysis_date, r.score, r.verdict, r.side, r.close, r.entry, r.stop, r.target,"
        " r.reward_risk, r.analysis_source, r.auto_adjust, r.scoring_version,"
        " r.status AS result_status,"
        " rj.params AS result_job_params,"
        " p.analysis_date AS prev_date, p.score AS prev_score, p.verdict AS prev_verdict,"
        " p.side AS prev_side, p.entry AS prev_entry, p.stop AS prev_stop,"
        " p.target AS prev_target"
        " FROM analysis_jobs_details AS d"
        " LEFT JOIN analysis_results AS r ON r.id = d.result_id"
        " LEFT JOIN analysis_jobs AS rj ON rj.id = r.job_id"
        " LEFT JOIN analysis_results AS p ON p.id = ("
        "   SELECT id FROM analysis_results WHERE ticker = r.ticker"
        "   AND analysis_date < r.analysis_date ORDER BY analysis_date DESC LIMIT 1)"
        " WHERE d.job_id = ? ORDER BY d.position"
    )
    return sql, [job_id]


def report_stocks(conn: sqlite3.Connection, job_id: int) -> list[dict[str, Any]]:
    sql, params = report_stocks_query(job_id)
    return _dicts(conn.execute(sql, params))
