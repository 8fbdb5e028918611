"""The read queries of the results: `stockscan results`, `results changes`, and the charts and
report. Each is built by a *_query function so that a test can run EXPLAIN QUERY PLAN on
exactly the SQL the command runs. None of them reads analysis_raw_data except find_result."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, TypedDict, cast

from stockscan.store.base import _decoded, _dicts, _rows

if TYPE_CHECKING:
    from stockscan.analysis.model import Side, Verdict

RESULT_COLUMNS = (
    "id", "ticker", "analysis_date", "score", "verdict", "side", "close", "entry", "stop",
    "target", "reward_risk", "analysis_source", "status", "scoring_version", "bars_used",
    "job_id", "created_at", "updated_at",
)  # fmt: skip


class Result(TypedDict):
    """A row of analysis_results as the listings read it (RESULT_COLUMNS, and ``demo``)."""

    id: int
    ticker: str
    analysis_date: str
    score: float
    verdict: Verdict
    side: Side
    close: float | None  # None only for a result imported from the old system
    entry: float | None
    stop: float | None
    target: float | None
    reward_risk: float | None
    analysis_source: str
    status: str
    scoring_version: str
    bars_used: int | None
    job_id: int | None
    created_at: str
    updated_at: str
    demo: bool


class HistoryRow(Result):
    """A result with its move from the analysis before it (None for a ticker's first)."""

    score_change: float | None
    previous_verdict: str | None


class ResultDetail(Result):
    """One result in full (find_result): its raw data, provenance and the job that wrote it."""

    raw_payload: str | None  # None: no raw-data row (never for a row stockscan wrote)
    quantity: int | None
    fetched_at: str | None
    source_version: str | None
    auto_adjust: int | None
    legacy_result_id: int | None  # not None: imported from the old system
    job_status: str | None  # None: the job that wrote it was pruned
    job_params: dict[str, Any] | None


_SELECT_RESULT = (
    ", ".join(f"r.{c}" for c in RESULT_COLUMNS) + ", r.analysis_source = 'demo' AS demo"
)
# result_indicators (m006) as the listings read it: the 17 indicators at the last bar and the
# derived percentages; None where undefined, or where the raw data was gone before m006.
INDICATOR_COLUMNS = (
    "sma_20", "sma_50", "sma_200", "ema_20", "rsi_14", "macd", "macd_signal", "macd_hist",
    "atr_14", "bb_upper", "bb_middle", "bb_lower", "adx_14", "roc_20", "volume_ratio_20",
    "high_52w", "low_52w", "atr_pct", "stop_pct", "pct_from_52w_high",
)  # fmt: skip
_SELECT_INDICATORS = ", ".join(f"i.{c}" for c in INDICATOR_COLUMNS)


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


# A screen's condition (stockscan.screens.compile_where): SQL over ``r`` (the result) and ``i``
# (its result_indicators row) whose every value is a ``?``, and its parameters.
Condition = tuple[str, Sequence[Any]]


def latest_query(
    tickers: Sequence[str] | None,
    *,
    as_of: str | None = None,
    verdicts: Sequence[str] = (),
    min_score: float | None = None,
    source: str | None = None,
    where: Condition | None = None,
    order: str | None = None,
    limit: int | None = None,
) -> tuple[str, list[Any]]:
    """The newest result per ticker (on or before ``as_of``), best score first, or in
    ``order`` (an ORDER BY of stockscan.screens.compile_sort: fixed SQL), the first ``limit``.
    Each row has its indicator columns (INDICATOR_COLUMNS) too.

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
    clauses, filter_params = _filters(verdicts=verdicts, min_score=min_score, source=source)
    if where is not None:
        clauses += f" AND {where[0]}"
        filter_params += list(where[1])
    sql = (
        f"{wanted} SELECT {_SELECT_RESULT}, {_SELECT_INDICATORS} FROM wanted"
        " JOIN analysis_results AS r ON r.id = ("
        " SELECT id FROM analysis_results"
        f" WHERE ticker = wanted.ticker{date_clause}"
        " ORDER BY analysis_date DESC LIMIT 1)"
        # A primary-key seek per row; every result has its row (m006), LEFT only so that a
        # missing one could never hide a result.
        " LEFT JOIN result_indicators AS i ON i.result_id = r.id"
        f" WHERE 1{clauses} ORDER BY {order or 'r.score DESC, r.ticker'}"
    )
    if limit is not None:
        sql += " LIMIT ?"
        filter_params.append(limit)
    return sql, params + filter_params


def latest_results(
    conn: sqlite3.Connection,
    tickers: Sequence[str] | None = None,
    *,
    as_of: str | None = None,
    verdicts: Sequence[str] = (),
    min_score: float | None = None,
    source: str | None = None,
    where: Condition | None = None,
    order: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    sql, params = latest_query(
        tickers,
        as_of=as_of,
        verdicts=verdicts,
        min_score=min_score,
        source=source,
        where=where,
        order=order,
        limit=limit,
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


def find_result_query(
    ticker: str, *, on: str | None = None, as_of: str | None = None
) -> tuple[str, list[Any]]:
    """One result in full: the one dated ``on``, else the newest on or before ``as_of`` (the
    newest of all when both are None); its raw data (the only read of analysis_raw_data), and
    the job that wrote it with that job's quantity for this ticker."""
    if on is not None and as_of is not None:
        raise ValueError("a result is found on a date or as of a date, not both")
    sql = (
        f"SELECT {_SELECT_RESULT}, raw.payload AS raw_payload, d.quantity,"
        " r.fetched_at, r.source_version, r.auto_adjust, r.legacy_result_id,"
        " j.status AS job_status, j.params AS job_params"
        " FROM analysis_results AS r"
        " LEFT JOIN analysis_raw_data AS raw ON raw.result_id = r.id"
        " LEFT JOIN analysis_jobs_details AS d ON d.job_id = r.job_id AND d.ticker = r.ticker"
        " LEFT JOIN analysis_jobs AS j ON j.id = r.job_id"
        f" WHERE r.ticker = ? AND r.analysis_date {'=' if on is not None else '<='} ?"
        " ORDER BY r.analysis_date DESC LIMIT 1"
    )
    return sql, [ticker, on if on is not None else as_of or "9999-12-31"]


def find_result(
    conn: sqlite3.Connection, ticker: str, *, on: str | None = None, as_of: str | None = None
) -> ResultDetail | None:
    """The one lookup of a ticker's result by date (see find_result_query): `results show`,
    the job loop's "no new bars" check (``on``) and the legacy import's "is this date taken"
    (``on``, with ``legacy_result_id``)."""
    sql, params = find_result_query(ticker, on=on, as_of=as_of)
    for row in _result_rows(conn.execute(sql, params)):
        row["job_params"] = _decoded(row["job_params"])
        return cast("ResultDetail", row)
    return None


def export_query(
    tickers: Sequence[str] | None = None,
    *,
    since: str | None = None,
    until: str | None = None,
    verdicts: Sequence[str] = (),
    min_score: float | None = None,
    source: str | None = None,
    where: Condition | None = None,
) -> tuple[str, list[Any]]:
    """Every result matching the filters, by ticker then date: the order of
    idx_results_ticker_date, so SQLite streams rows without sorting them first. A screen
    (``where``) reads each row's indicators by primary key."""
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
    filters, filter_params = _filters(verdicts=verdicts, min_score=min_score, source=source)
    join = ""
    if where is not None:
        join = " LEFT JOIN result_indicators AS i ON i.result_id = r.id"
        filters += f" AND {where[0]}"
        filter_params += list(where[1])
    sql = (
        f"SELECT {_SELECT_RESULT} FROM analysis_results AS r{join}"
        f" WHERE {' AND '.join(clauses) or '1'}{filters}"
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
    where: Condition | None = None,
) -> Iterator[dict[str, Any]]:
    """Stream results one row at a time (constant memory at any size)."""
    sql, params = export_query(
        tickers,
        since=since,
        until=until,
        verdicts=verdicts,
        min_score=min_score,
        source=source,
        where=where,
    )
    yield from _result_rows(conn.execute(sql, params))


def newest_market_date(conn: sqlite3.Connection) -> str | None:
    """The newest analysis date of any result (an index seek on idx_results_date)."""
    return conn.execute("SELECT max(analysis_date) FROM analysis_results").fetchone()[0]


class ResultPair(TypedDict):
    """A ticker's newest result with the one before it (``prev_*``: None for a first)."""

    ticker: str
    analysis_date: str
    score: float
    verdict: Verdict
    side: Side
    close: float | None
    entry: float | None
    stop: float | None
    target: float | None
    analysis_source: str
    scoring_version: str
    prev_date: str | None
    prev_score: float | None
    prev_verdict: Verdict | None
    prev_side: Side | None
    prev_entry: float | None
    prev_stop: float | None
    prev_target: float | None
    prev_scoring_version: str | None


def result_pairs(conn: sqlite3.Connection, *, since: str) -> list[ResultPair]:
    """Each ticker whose newest result is dated ``since`` or later, with the result before it
    (``prev_*``; NULL for a first analysis). Index seeks only: idx_results_date finds the
    recent results, idx_results_ticker_date each one's newest and previous."""
    return _rows(
        ResultPair,
        conn.execute(
            "SELECT l.ticker, l.analysis_date, l.score, l.verdict, l.side, l.close, l.entry,"
            " l.stop, l.target, l.analysis_source, l.scoring_version,"
            " p.analysis_date AS prev_date, p.score AS prev_score, p.verdict AS prev_verdict,"
            " p.side AS prev_side, p.entry AS prev_entry, p.stop AS prev_stop,"
            " p.target AS prev_target, p.scoring_version AS prev_scoring_version"
            " FROM analysis_results AS l"
            " LEFT JOIN analysis_results AS p ON p.id = ("
            "   SELECT id FROM analysis_results WHERE ticker = l.ticker"
            "   AND analysis_date < l.analysis_date ORDER BY analysis_date DESC LIMIT 1)"
            " WHERE l.analysis_date >= ? AND l.analysis_date = ("
            "   SELECT max(analysis_date) FROM analysis_results WHERE ticker = l.ticker)"
            " ORDER BY l.ticker",
            (since,),
        ),
    )


# --- charts and report ---
# Reads behind `stockscan results chart` and `stockscan report` (stockscan.charts). The bars
# themselves come from the price cache above (yahoo) or are rebuilt by their source.


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
    rows = _dicts(conn.execute(sql, params))
    for row in rows:
        row["result_job_params"] = _decoded(row["result_job_params"])
    return rows


def job_passing_query(job_id: int, where: Condition) -> tuple[str, list[Any]]:
    """The ids of the results a job's stocks wrote (or kept) that pass a screen: the job's
    detail rows by idx_details_job_status, then primary keys."""
    sql = (
        "SELECT r.id FROM analysis_jobs_details AS d"
        " JOIN analysis_results AS r ON r.id = d.result_id"
        " LEFT JOIN result_indicators AS i ON i.result_id = r.id"
        f" WHERE d.job_id = ? AND {where[0]}"
    )
    return sql, [job_id, *where[1]]


def job_passing(conn: sqlite3.Connection, job_id: int, where: Condition) -> set[int]:
    sql, params = job_passing_query(job_id, where)
    return {int(row[0]) for row in conn.execute(sql, params)}
