"""Screens: the snapshot indicators of each result as columns (result_indicators, m006) and
the saved screens (screens). The queries that filter and sort by them are in results.py."""

from __future__ import annotations

import sqlite3

from stockscan.migrations import m006_fill_indicators_sql

_FILL_ONE = m006_fill_indicators_sql("r.id = ?")


def write_indicators(conn: sqlite3.Connection, result_id: int) -> None:
    """(Re)write the indicator row of ``result_id`` from its result and raw data, inside the
    caller's transaction: every writer of a result calls it right after writing the raw data,
    so a result never exists without its row (one definition with m006's backfill)."""
    conn.execute(_FILL_ONE, (result_id,))
