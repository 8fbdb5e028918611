"""Screens: the snapshot indicators of each result as columns (result_indicators, m006) and
the saved screens (screens). The queries that filter and sort by them are in results.py."""

from __future__ import annotations

import sqlite3
from typing import TypedDict

from stockscan.migrations import m006_fill_indicators_sql
from stockscan.store.base import _rows, now_iso

_FILL_ONE = m006_fill_indicators_sql("r.id = ?")


def write_indicators(conn: sqlite3.Connection, result_id: int) -> None:
    """(Re)write the indicator row of ``result_id`` from its result and raw data, inside the
    caller's transaction: every writer of a result calls it right after writing the raw data,
    so a result never exists without its row (one definition with m006's backfill)."""
    conn.execute(_FILL_ONE, (result_id,))


class SavedScreen(TypedDict):
    """A row of screens: a --where expression under a name, and its --sort (None: none)."""

    name: str
    expression: str
    sort: str | None
    created_at: str
    updated_at: str


_SCREEN = "SELECT name, expression, sort, created_at, updated_at FROM screens"


def save_screen(conn: sqlite3.Connection, name: str, expression: str, sort: str | None) -> bool:
    """Save (or replace) a screen; True when it replaced one of that name."""
    now = now_iso()
    existed = conn.execute("SELECT 1 FROM screens WHERE name = ?", (name,)).fetchone()
    conn.execute(
        "INSERT INTO screens (name, expression, sort, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
        " expression = excluded.expression, sort = excluded.sort, updated_at = excluded.updated_at",
        (name, expression, sort, now, now),
    )
    return existed is not None


def get_screen(conn: sqlite3.Connection, name: str) -> SavedScreen | None:
    found = _rows(SavedScreen, conn.execute(f"{_SCREEN} WHERE name = ?", (name,)))
    return found[0] if found else None


def list_screens(conn: sqlite3.Connection) -> list[SavedScreen]:
    return _rows(SavedScreen, conn.execute(f"{_SCREEN} ORDER BY name"))


def remove_screen(conn: sqlite3.Connection, name: str) -> bool:
    return conn.execute("DELETE FROM screens WHERE name = ?", (name,)).rowcount > 0
