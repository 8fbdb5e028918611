"""The old file: opened read-only, checked to have the old design, never the target.

A database in WAL mode with no write-ahead log beside it is opened ``immutable``, because a
plain read-only open of a WAL database creates ``-wal`` and ``-shm`` files next to it. When a
non-empty ``-wal`` is there (the old service is running, or died without checkpointing) it
holds committed rows that the main file lacks, so the file is opened read-only *with* its log:
the main file and the log stay byte-identical, and SQLite may create or update the ``-shm``
index (the report says so).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stockscan.db import describe
from stockscan.errors import DatabaseError, UsageError
from stockscan.legacy.mapping import jsonable

# The old design, as the failure analysis describes it: what a file must have to be imported.
OLD_DESIGN: dict[str, tuple[str, ...]] = {
    "watchlist": ("id", "symbol", "name", "user_id", "created_at"),
    "analysis_jobs": (
        "job_id", "status", "total", "completed", "errors", "created_at", "started_at",
        "completed_at",
    ),
    "analysis_results": (
        "id", "ticker", "symbol", "score", "verdict", "entry", "stop", "target", "raw_data",
        "analysis_source", "status", "created_at", "updated_at",
    ),
}  # fmt: skip
SQLITE_MAGIC = b"SQLite format 3\x00"


@dataclass
class LegacyFile:
    """The old database, open read-only."""

    path: Path
    conn: sqlite3.Connection
    notes: list[str] = field(default_factory=list)

    @contextmanager
    def errors(self) -> Iterator[None]:
        """SQLite errors of the old file name the old file (the command's translate_errors
        would blame the stockscan database)."""
        try:
            yield
        except sqlite3.Error as exc:
            raise DatabaseError(f"{self.path}: {describe(exc)}") from exc

    def read(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        """The rows of a query on the old file, one at a time."""
        with self.errors():
            yield from self.conn.execute(sql, params)

    def result_row(self, rowid: int) -> dict[str, Any]:
        """One old ``analysis_results`` row, every column, as an NDJSON line shows it."""
        columns = OLD_DESIGN["analysis_results"]
        with self.errors():
            row = self.conn.execute(
                f"SELECT {', '.join(columns)} FROM main.analysis_results WHERE rowid = ?",
                (rowid,),
            ).fetchone()
        return {name: jsonable(value) for name, value in zip(columns, row, strict=True)}


@contextmanager
def open_legacy(path: Path) -> Iterator[LegacyFile]:
    """Open ``path`` read-only and check it has the old design; ``UsageError`` when it is not a
    SQLite file or lacks a table or column (naming each), ``DatabaseError`` when SQLite fails."""
    path = path.expanduser()
    if not path.exists():
        raise UsageError(f"no file at {path}")
    if not path.is_file():
        raise UsageError(f"{path} is not a file")
    with path.open("rb") as handle:
        header = handle.read(100)
    if header and not header.startswith(SQLITE_MAGIC):
        raise UsageError(f"{path} is not a SQLite database, so not a database of the old design")
    notes: list[str] = []
    wal_mode = len(header) >= 20 and header[18] == 2
    wal, shm = (path.with_name(path.name + suffix) for suffix in ("-wal", "-shm"))
    if wal_mode and wal.exists() and (wal.stat().st_size > 0 or shm.exists()):
        mode = "mode=ro"
        if wal.stat().st_size > 0:
            notes.append(
                f"{wal.name} holds changes not yet in {path.name} (is the old service still "
                f"running?); they were read through SQLite's read-only mode, which keeps "
                f"{path.name} and {wal.name} unchanged but may write {shm.name}"
            )
    elif wal_mode:
        mode = "mode=ro&immutable=1"
    else:
        mode = "mode=ro"
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?{mode}", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise DatabaseError(f"{path}: {describe(exc)}") from exc
    # Old rows may hold bytes that are not UTF-8; they must not stop the import (see mapping.clean).
    conn.text_factory = lambda data: data.decode("utf-8", "surrogateescape")
    try:
        missing = _missing_parts(conn, path)
        if missing:
            raise UsageError(
                f"{path} is not a database of the old design: missing {'; '.join(missing)}"
            )
        yield LegacyFile(path, conn, notes)
    finally:
        conn.close()


def _missing_parts(conn: sqlite3.Connection, path: Path) -> list[str]:
    missing: list[str] = []
    try:
        for table, columns in OLD_DESIGN.items():
            have = {str(row[1]).lower() for row in conn.execute(f"PRAGMA table_info({table})")}
            if not have:
                missing.append(f"table {table}")
                continue
            lacking = [column for column in columns if column not in have]
            if lacking:
                missing.append(f"columns {', '.join(f'{table}.{c}' for c in lacking)}")
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorname", "") == "SQLITE_NOTADB":
            raise UsageError(
                f"{path} is not a SQLite database (it is damaged or encrypted)"
            ) from exc
        raise DatabaseError(f"{path}: {describe(exc)}") from exc
    return missing


def refuse_overlaps(legacy_path: Path, db_path: Path, output: Path | None) -> None:
    """The old file is never the target or the output, whatever path spells it."""

    def same(a: Path, b: Path) -> bool:
        a, b = a.expanduser(), b.expanduser()
        if a.exists() and b.exists():
            return os.path.samefile(a, b)  # symlinks and hard links too
        return a.resolve() == b.resolve()

    if same(legacy_path, db_path):
        raise UsageError(
            f"{legacy_path} is the old database and also --db: import into a stockscan database"
        )
    if output is not None:
        for other in (legacy_path, db_path):
            siblings = [other, *(other.with_name(other.name + s) for s in ("-wal", "-shm"))]
            if any(same(output, sibling) for sibling in siblings):
                raise UsageError(f"--keep-duplicates-in {output} would overwrite {other}")
