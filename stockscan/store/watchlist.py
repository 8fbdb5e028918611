"""The followed tickers (`stockscan watchlist`)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from stockscan.store.base import _dicts, now_iso


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


def watchlist_rows(
    conn: sqlite3.Connection, *, where: tuple[str, Sequence[Any]] | None = None
) -> list[dict[str, Any]]:
    """Each followed ticker with its latest analysis, through the watchlist's own links:
    one primary-key lookup per row, never a scan of the results. ``where``: only those whose
    latest result passes this screen (stockscan.screens), its indicators one more lookup."""
    join, condition, params = "", "", ()
    if where is not None:
        join = " LEFT JOIN result_indicators AS i ON i.result_id = r.id"
        condition, params = f" WHERE {where[0]}", tuple(where[1])
    return _dicts(
        conn.execute(
            # Only what the listing shows: at 2,000 rows, each column costs Python time.
            # (The result's id is left out: `results show TICKER` finds it by ticker.)
            "SELECT w.ticker, w.name, w.last_job_id, w.last_analyzed_at, w.analysis_status,"
            " r.analysis_date, r.score, r.verdict, r.side, r.entry, r.stop, r.target,"
            " r.analysis_source"
            f" FROM watchlist AS w LEFT JOIN analysis_results AS r ON r.id = w.last_result_id{join}"
            f"{condition} ORDER BY w.id",
            params,
        )
    )
