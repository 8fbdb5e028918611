"""What every module of the store shares: the clock of its timestamps, the vocabularies its
queries filter on, and turning a cursor into rows.

Timestamps are ISO-8601 UTC text; market dates are ``YYYY-MM-DD``.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, TypeVar, cast

from stockscan.clock import now_iso  # the store's timestamps: the one clock, to the ms
from stockscan.vocab import (
    ACTIVE_JOB_STATUSES,
    COUNTED_STOCK_STATUSES,
    REAL_SOURCES,
    TERMINAL_JOB_STATUSES,
)

Row = TypeVar("Row")


# Spelled in stockscan.vocab; the store's modules take them from here.
__all__ = [
    "ACTIVE_JOB_STATUSES",
    "COUNTED_STOCK_STATUSES",
    "REAL_SOURCES",
    "TERMINAL_JOB_STATUSES",
    "now_iso",
]


def _decoded(params: str | None) -> dict[str, Any] | None:
    """A job's ``params`` as the dict it was stored from: every job row leaves the store with
    them decoded, so no caller parses JSON (None stays None, for a LEFT JOIN with no job)."""
    if params is None:
        return None
    decoded: dict[str, Any] = json.loads(params)
    return decoded


def _dicts(cursor: sqlite3.Cursor) -> list[dict[str, Any]]:
    names = [d[0] for d in cursor.description]
    # Not strict=True: a row always has as many values as the cursor has columns, and the
    # check costs a tenth of a 2,000-row listing.
    return [dict(zip(names, row)) for row in cursor]  # noqa: B905


def _rows(shape: type[Row], cursor: sqlite3.Cursor) -> list[Row]:
    """The cursor's rows as the TypedDict ``shape`` its query returns. The untyped rows of
    sqlite3 get their type here, or where a module decodes a column first (``_jobs``)."""
    return cast("list[Row]", _dicts(cursor))
