"""Import a database of the old three-table design (``stockscan db import-legacy``).

The old file is only ever read. It is opened through a read-only URI; a database in WAL mode
with no write-ahead log beside it is opened ``immutable``, because a plain read-only open of a
WAL database creates ``-wal`` and ``-shm`` files next to it. When a non-empty ``-wal`` is there
(the old service is running, or died without checkpointing) it holds committed rows that the
main file lacks, so the file is opened read-only *with* its log: the main file and the log stay
byte-identical, and SQLite may create or update the ``-shm`` index (the report says so).

What becomes what:

- ``watchlist`` rows become watchlist rows, the symbol normalised like any ticker
  (``stockscan.tickers``); symbols that are not tickers are reported, never dropped silently.
  stockscan has no users yet, so the old ``user_id`` is not kept: the report counts it.
- ``analysis_jobs`` rows become jobs of source ``legacy`` that keep the old UUID in
  ``legacy_job_id``. The old system kept no per-stock rows, so these jobs have none. A job stuck
  in ``processing`` (or any status that is not an end state) becomes ``interrupted``, with a
  message; the old ``errors`` text is kept in ``message``.
- ``analysis_results`` rows become results, one per ticker and market date. The old rows have
  no market date: the market date of an old row is the UTC date of its ``created_at`` (naive
  timestamps are taken as UTC, what SQLite's CURRENT_TIMESTAMP writes), since the old service
  analysed on request against the newest bar of that day. Of several rows for one ticker and
  date the newest ``created_at`` wins (then the highest old id); the others are counted as
  merged duplicates and, with ``--keep-duplicates-in``, written out. A ticker and date that
  already has a result (an earlier import, or stockscan's own analysis) keeps it.
  All of them belong to one "legacy import" job with one succeeded stock row per ticker,
  since the old rows cannot be traced to their jobs.
- Repairs, each counted: a NULL source becomes ``unknown``, a NULL status ``complete`` (the old
  system never filled it in), a NULL ``created_at`` falls back to ``updated_at``. What is never
  invented: a row whose score is missing or outside 0-100, whose verdict is not one of the five,
  whose status is something else than completed/partial, or whose ticker is not a ticker, is
  not imported; it is counted by reason (and written out with the duplicates, if asked).
- ``raw_data`` goes to ``analysis_raw_data`` unchanged when it is valid JSON; anything else is
  kept as text inside ``{"legacy_text": …, "valid_json": false}`` (a BLOB as
  ``legacy_base64``), so nothing is lost and the flag is in the payload itself.
- "Orphans" are old results that no surviving old job can have written (their ``created_at``
  is outside every old job's created..completed window): the old cleanup deleted their job.
  They are imported like the rest and counted.

Memory stays bounded at any file size: the old tables are read through cursors, never
``fetchall``; duplicates are resolved in a temporary table (SQLite spills it to disk), and the
new rows are written in transactions of at most ``BATCH_ROWS`` rows or ``BATCH_BYTES`` of raw
data each. An interrupted import leaves its job ``interrupted``; the same command continues it.
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import hashlib
import json
import math
import os
import socket
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from stockscan import store
from stockscan.db import describe, transaction
from stockscan.errors import DatabaseError, JobAlreadyRunning, UsageError
from stockscan.jobs import JobInterrupted
from stockscan.locks import JobLock
from stockscan.tickers import normalise

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
BATCH_ROWS = 500
BATCH_BYTES = 16 * 1024 * 1024
PROGRESS_EVERY = 10_000
LIST_LIMIT = 20  # invalid symbols or unknown values listed in a report, at most

VERDICTS = ("STRONG_BUY", "BUY", "HOLD", "SELL", "STRONG_SELL")
RESULT_STATUSES = {"completed": "complete", "complete": "complete", "partial": "partial"}
SOURCES = {"yahoo": "yahoo", "yfinance": "yahoo", "demo": "demo", "csv": "csv"}
# Old job statuses that are an end state; every other one (processing, pending, NULL, …) was
# never going to finish once the old service stopped.
FINISHED_JOB_STATUSES = {"completed": "succeeded", "complete": "succeeded", "failed": "failed"}


@dataclass
class LegacyFile:
    """The old database, open read-only."""

    path: Path
    conn: sqlite3.Connection
    notes: list[str] = field(default_factory=list)


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
    # Old rows may hold bytes that are not UTF-8; they must not stop the import (see _clean).
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


# --- values of old rows -------------------------------------------------------------------------


def _timestamp(value: Any) -> str | None:
    """An old timestamp as ISO-8601 UTC text, or None when there is none or it cannot be read.

    Naive timestamps are UTC (what SQLite's CURRENT_TIMESTAMP and datetime.utcnow() write);
    numbers are Unix seconds (milliseconds when too large to be seconds).
    """
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value / 1000 if abs(value) > 1e11 else value
            moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
        elif isinstance(value, str) and value.strip():
            moment = dt.datetime.fromisoformat(value.strip())
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")


def _number(value: Any) -> float | None:
    """A finite number, or None for NULL; ValueError for anything else."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    number = float(value.strip()) if isinstance(value, str) else float(value)
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def _not_utf8(text: str) -> bool:
    """True when ``text`` carries bytes of the old file that were not UTF-8 (as surrogates)."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _clean(text: str) -> str:
    """Text safe to store: bytes that were not UTF-8 in the old file become U+FFFD."""
    if not _not_utf8(text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def _jsonable(value: Any) -> Any:
    """An old column value in an NDJSON line, exactly: BLOBs as base64, odd floats as text."""
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _side(entry: float | None, stop: float | None) -> str:
    """The side of the old trade plan, from where its stop sits: below the entry is a long
    trade, above it a short one. No entry or stop, or a stop at the entry, is no trade."""
    if entry is None or stop is None or entry == stop:
        return "none"
    return "long" if stop < entry else "short"


@dataclass
class CheckedResult:
    """One old result row, checked: either its stockscan values or why it cannot be imported."""

    ticker: str | None = None
    market_date: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    score: float | None = None
    verdict: str | None = None
    side: str | None = None
    entry: float | None = None
    stop: float | None = None
    target: float | None = None
    source: str | None = None
    status: str | None = None
    repairs: list[str] = field(default_factory=list)
    problem: str | None = None  # a short kind, counted in the report
    problem_text: str | None = None  # the exact value, for the NDJSON file


def check_result(row: dict[str, Any]) -> CheckedResult:
    """Map one old ``analysis_results`` row to stockscan's values, repairing what can be
    repaired without inventing anything; the first problem found wins."""
    out = CheckedResult()

    def fail(kind: str, text: str) -> CheckedResult:
        out.problem, out.problem_text = kind, text
        return out

    out.created_at = _timestamp(row["created_at"])
    out.updated_at = _timestamp(row["updated_at"])
    if out.created_at is None:
        if out.updated_at is None:
            return fail("created_at_missing", f"no usable created_at ({_shown(row['created_at'])})")
        out.created_at = out.updated_at
        out.repairs.append("results.created_at NULL or unreadable -> updated_at")
    if out.updated_at is None:
        out.updated_at = out.created_at
        out.repairs.append("results.updated_at NULL -> created_at")
    out.market_date = out.created_at[:10]

    raw_ticker = "" if row["ticker"] is None else str(row["ticker"])
    if not raw_ticker.strip():
        raw_ticker = "" if row["symbol"] is None else str(row["symbol"])
        if not raw_ticker.strip():
            return fail("ticker_missing", "no ticker and no symbol")
        out.repairs.append("results.ticker NULL -> symbol")
    try:
        out.ticker = normalise(raw_ticker)
    except UsageError:
        return fail("ticker_invalid", f"invalid ticker {_shown(raw_ticker)}")

    try:
        out.score = _number(row["score"])
    except (ValueError, TypeError):
        return fail("score_not_a_number", f"score {_shown(row['score'])} is not a number")
    if out.score is None:
        return fail("score_null", "score is NULL")
    if not 0 <= out.score <= 100:
        return fail("score_out_of_range", f"score {out.score:g} is outside 0-100")

    verdict = row["verdict"]
    if verdict is None:
        return fail("verdict_null", "verdict is NULL")
    spelled = str(verdict).strip().upper().replace(" ", "_").replace("-", "_")
    if spelled not in VERDICTS:
        return fail("verdict_unknown", f"verdict {_shown(verdict)} is not one of {VERDICTS}")
    if spelled != verdict:
        out.repairs.append("results.verdict spelling")
    out.verdict = spelled

    status = row["status"]
    if status is None:
        out.status = "complete"
        out.repairs.append("results.status NULL -> complete")
    elif str(status).strip().lower() in RESULT_STATUSES:
        out.status = RESULT_STATUSES[str(status).strip().lower()]
    else:
        return fail("status_unknown", f"status {_shown(status)} is not completed or partial")

    source = row["analysis_source"]
    if source is None:
        out.source = "unknown"
        out.repairs.append("results.analysis_source NULL -> unknown")
    elif str(source).strip().lower() in SOURCES:
        out.source = SOURCES[str(source).strip().lower()]
    else:
        out.source = "unknown"
        out.repairs.append("results.analysis_source unrecognised -> unknown")

    try:
        out.entry, out.stop, out.target = (_number(row[k]) for k in ("entry", "stop", "target"))
    except (ValueError, TypeError):
        plan = {k: row[k] for k in ("entry", "stop", "target")}
        return fail("plan_not_a_number", f"entry/stop/target {_shown(plan)} are not numbers")
    out.side = _side(out.entry, out.stop)
    return out


def raw_payload(raw: Any, sqlite_says_valid: bool) -> tuple[str, bool]:
    """(payload, valid) for an old ``raw_data`` value: valid JSON text as it is; anything else
    wrapped so that the text survives and the payload says it was not JSON."""
    if isinstance(raw, str):
        if sqlite_says_valid and not _not_utf8(raw):
            return raw, True
        # Bytes that were not UTF-8 come out as \udcXX escapes: nothing is lost.
        wrapped: dict[str, Any] = {"legacy_text": raw, "valid_json": False}
    elif isinstance(raw, bytes):
        wrapped = {"legacy_base64": base64.b64encode(raw).decode("ascii"), "valid_json": False}
    elif raw is None:
        wrapped = {"legacy_text": None, "valid_json": False}
    else:  # a number stored in the TEXT column
        wrapped = {"legacy_text": str(raw), "valid_json": False}
    return json.dumps(wrapped, separators=(",", ":")), False


def import_request_key(path: Path) -> str:
    """The request key of importing the old file at ``path``: while one import of it is
    active (idx_jobs_active_request), no second one can start."""
    return hashlib.sha256(json.dumps({"legacy_import": str(path.resolve())}).encode()).hexdigest()


# --- the import -----------------------------------------------------------------------------------


@dataclass
class _Counts:
    read: int = 0
    imported: int = 0
    already_present: int = 0


class Importer:
    """One run of ``db import-legacy``. ``conn`` is None for a dry run into a database that
    does not exist yet (so nothing can be present in it)."""

    def __init__(
        self,
        legacy: LegacyFile,
        conn: sqlite3.Connection | None,
        db_path: Path,
        *,
        dry_run: bool,
        duplicates_out: Path | None = None,
        progress: Callable[[str], None] | None = None,
        db_bytes_before: int | None = None,
    ) -> None:
        assert conn is not None or dry_run
        # Measured by the caller before opening (and so creating and migrating) the database.
        self.db_bytes_before = db_size(db_path) if db_bytes_before is None else db_bytes_before
        self.legacy = legacy
        self.old = legacy.conn
        self.conn = conn
        self.db_path = db_path
        self.dry_run = dry_run
        self.duplicates_out = duplicates_out
        self.progress = progress or (lambda message: None)
        self.request_key = import_request_key(legacy.path)
        self.job_id: int | None = None
        self.lock: JobLock | None = None
        self.repairs: Counter[str] = Counter()
        self.watchlist = _Counts()
        self.watchlist_merged = 0
        self.invalid_symbols: list[str] = []
        self.invalid_symbol_count = 0
        self.user_rows = 0
        self.user_ids: set[Any] = set()
        self.jobs = _Counts()
        self.jobs_interrupted = 0
        self.jobs_unimportable = 0
        self.job_windows: list[tuple[str, str | None]] = []
        self.results = _Counts()
        self.results_kept_existing = 0
        self.results_merged = 0
        self.unimportable: Counter[str] = Counter()
        self.orphans = 0
        self.invalid_json = 0
        self.tickers: set[str] = set()
        self.unknown_sources: set[str] = set()
        self.written = 0
        self._out: IO[str] | None = None
        self._batch_tickers: set[str] = set()
        self._window_starts: list[str] = []
        self._seen = 0

    # -- plumbing --

    @contextmanager
    def _old_errors(self) -> Iterator[None]:
        """SQLite errors of the old file name the old file (the command's translate_errors
        would blame the stockscan database)."""
        try:
            yield
        except sqlite3.Error as exc:
            raise DatabaseError(f"{self.legacy.path}: {describe(exc)}") from exc

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
        """The rows of a query on the old file, one at a time."""
        with self._old_errors():
            yield from self.old.execute(sql, params)

    def _tx(self) -> AbstractContextManager[Any]:
        return nullcontext() if self.dry_run or self.conn is None else transaction(self.conn)

    def _batches(self, rows: Iterator[Any], write: Callable[[Any], int]) -> None:
        """Feed ``rows`` to ``write`` (which returns the bytes it wrote) in transactions of at
        most BATCH_ROWS rows or BATCH_BYTES bytes: a multi-GB file never sits in memory or in
        one transaction, and an interruption loses at most one batch, which is redone."""
        rows = iter(rows)
        while True:
            exhausted = True
            with self._tx():
                count = size = 0
                for row in rows:
                    size += write(row)
                    count += 1
                    if count >= BATCH_ROWS or size >= BATCH_BYTES:
                        exhausted = False
                        break
                self._end_batch()
            if exhausted:
                return

    def _end_batch(self) -> None:
        if self.job_id is not None and self.conn is not None:
            for ticker in sorted(self._batch_tickers):
                store.record_legacy_ticker(self.conn, self.job_id, ticker)
        self._batch_tickers = set()

    def _emit(self, line: dict[str, Any]) -> None:
        if self._out is not None:
            self._out.write(json.dumps(line, separators=(",", ":")) + "\n")
            self.written += 1

    # -- the run --

    def run(self) -> dict[str, Any]:
        started = time.monotonic()
        legacy_before = _size(self.legacy.path)
        tmp: Path | None = None
        if self.duplicates_out is not None:
            tmp = self.duplicates_out.with_name(self.duplicates_out.name + ".partial")
            try:
                self._out = tmp.open("w", encoding="utf-8")
            except OSError as exc:
                raise UsageError(
                    f"--keep-duplicates-in {self.duplicates_out}: {exc.strerror or exc}"
                ) from exc
        done = False
        try:
            # One read transaction on the old file: every pass sees the same snapshot.
            with self._old_errors():
                self.old.execute("BEGIN")
            if not self.dry_run:
                self._adopt_interrupted_import()
            self._import_watchlist()
            self._import_jobs()
            self._check_results()
            self._import_results()
            self._write_losers()
            self._finish()
            done = True
        except KeyboardInterrupt:
            if self._interrupted():
                raise JobInterrupted(
                    f"interrupted; import job {self.job_id} is left resumable:"
                    " run the same command again"
                ) from None
            raise
        finally:
            # Only the temporary table was written. A failing ROLLBACK must not hide the error
            # that got us here; closing the connection ends the transaction anyway.
            with suppress(sqlite3.Error):
                if self.old.in_transaction:
                    self.old.execute("ROLLBACK")
            if self.lock is not None:
                self.lock.release()
            if self._out is not None:
                self._out.close()
            if tmp is not None and not done:
                tmp.unlink(missing_ok=True)
        if tmp is not None and self.duplicates_out is not None:
            os.replace(tmp, self.duplicates_out)
        return self._report(legacy_before, time.monotonic() - started)

    def _adopt_interrupted_import(self) -> None:
        """An earlier import of this file that stopped half-way is continued, not duplicated;
        one that is still running in a live process stops this one (exit 3)."""
        assert self.conn is not None
        with transaction(self.conn):
            self._take_over_active_import()

    def _take_over_active_import(self) -> bool:
        """Adopt this file's active import job if its owner is gone (a free lock proves it);
        False when there is none."""
        assert self.conn is not None
        active = store.find_active_job(self.conn, self.request_key)
        if active is None:
            return False
        self._lock_job(active)
        store.adopt_job(
            self.conn, active["id"], owner_pid=os.getpid(), owner_host=socket.gethostname()
        )
        self.job_id = int(active["id"])
        return True

    def _lock_job(self, job: dict[str, Any]) -> None:
        lock = JobLock(self.db_path, job["id"])
        if not lock.try_acquire():
            raise JobAlreadyRunning(job["id"], job["owner_pid"], job["owner_host"])
        self.lock = lock

    def _ensure_job(self) -> int:
        """The import job, created with the first result that is actually new."""
        assert self.conn is not None
        # Another import of the same file may have started since this one began.
        if self.job_id is None and not self._take_over_active_import():
            from stockscan.market import last_weekday

            job_id = store.create_job(
                self.conn,
                request_key=self.request_key,
                source="legacy",
                params={"legacy_path": str(self.legacy.path.resolve())},
                run_date=last_weekday().isoformat(),
                tickers=[],
                owner_pid=os.getpid(),
                owner_host=socket.gethostname(),
            )
            # Locked before COMMIT, like any job: nobody sees it running without an owner.
            self._lock_job({"id": job_id, "owner_pid": os.getpid(), "owner_host": None})
            self.job_id = job_id
        assert self.job_id is not None
        return self.job_id

    def _interrupted(self) -> bool:
        """Leave the import job resumable, as the job loop does; False when there is none."""
        if self.job_id is None or self.conn is None or self.dry_run:
            return False
        with transaction(self.conn):
            store.interrupt_job(
                self.conn,
                self.job_id,
                "import interrupted by Ctrl-C or SIGTERM; the same command continues it",
            )
        return True

    # -- watchlist --

    def _import_watchlist(self) -> None:
        # Watchlists are small (one row per followed ticker): merged in memory.
        merged: dict[str, tuple[str | None, str | None]] = {}
        for symbol, name, user_id, created_at in self._read(
            "SELECT symbol, name, user_id, created_at FROM watchlist ORDER BY id"
        ):
            self.watchlist.read += 1
            if user_id is not None:
                self.user_rows += 1
                self.user_ids.add(user_id)
            try:
                ticker = normalise("" if symbol is None else str(symbol))
            except UsageError:
                self.invalid_symbol_count += 1
                if len(self.invalid_symbols) < LIST_LIMIT:
                    self.invalid_symbols.append(_clean(repr(symbol)))
                continue
            name = None if name is None else _clean(str(name))
            if ticker in merged:  # e.g. 'tcs.ns' and 'TCS.NS'
                self.watchlist_merged += 1
                if merged[ticker][0] is None:
                    merged[ticker] = (name, merged[ticker][1])
                continue
            merged[ticker] = (name, _timestamp(created_at))
        with self._tx():
            for ticker, (name, added_at) in merged.items():
                if self.conn is None:
                    new = True
                elif self.dry_run:
                    new = not store.watchlist_has(self.conn, ticker)
                else:
                    new = store.insert_legacy_watchlist(
                        self.conn, ticker, name, added_at or store.now_iso()
                    )
                if not new:
                    self.watchlist.already_present += 1
                    continue
                self.watchlist.imported += 1
                if added_at is None:
                    self.repairs["watchlist.created_at NULL -> import time"] += 1

    # -- jobs --

    def _import_jobs(self) -> None:
        rows = self._read(
            "SELECT job_id, status, total, completed, errors, created_at, started_at,"
            " completed_at FROM analysis_jobs ORDER BY rowid"
        )
        self._batches(rows, self._import_job)
        self._merge_windows()
        self.progress(f"{self.jobs.read} old jobs read")

    def _import_job(self, row: tuple[Any, ...]) -> int:
        legacy_id, old_status, total, completed, errors, created, started, completed_at = row
        self.jobs.read += 1
        created_at = _timestamp(created)
        started_at = _timestamp(started)
        finished_at = _timestamp(completed_at)
        # What the old job could have written: results created from its start to its end.
        if created_at or started_at:
            self.job_windows.append((min(t for t in (created_at, started_at) if t), finished_at))
        if isinstance(legacy_id, bytes):
            legacy_id = legacy_id.hex()
        if legacy_id is None or not str(legacy_id).strip():
            self.jobs_unimportable += 1
            return 0
        legacy_id = _clean(str(legacy_id))
        repairs: list[str] = []
        if created_at is None:
            created_at = started_at or finished_at
            repairs.append("jobs.created_at NULL -> started_at or completed_at")
            if created_at is None:
                created_at = store.now_iso()
                repairs[-1] = "jobs.created_at NULL -> import time"
        if started_at is None:
            started_at = created_at
            repairs.append("jobs.started_at NULL -> created_at")
        try:
            count = _number(total)
        except (ValueError, TypeError):
            count = None
        if count is None or count < 0 or count != int(count):
            repairs.append("jobs.total NULL or invalid -> 0")
            count = 0
        errors_text = _clean(str(errors)).strip() if errors is not None else ""
        has_errors = errors_text not in ("", "[]", "{}", "null")
        spelled = str(old_status).strip().lower() if old_status is not None else None
        notes: list[str] = []
        if spelled in FINISHED_JOB_STATUSES:
            status = FINISHED_JOB_STATUSES[spelled]
            if status == "succeeded" and has_errors:
                status = "partial"  # it finished, and its errors say some stocks failed
        else:
            status = "interrupted"
            if old_status is None:
                repairs.append("jobs.status NULL -> interrupted")
            shown = "no status" if old_status is None else f"status {_shown(old_status)}"
            notes.append(
                f"imported from the old system with {shown}: it never finished and its process"
                " is long gone; old jobs cannot be resumed"
            )
        if has_errors:
            notes.append(f"old errors: {errors_text}")
        if self.conn is None:
            new = True
        elif self.dry_run:
            new = not store.legacy_job_exists(self.conn, legacy_id)
        else:
            new = store.insert_legacy_job(
                self.conn,
                legacy_job_id=legacy_id,
                request_key=hashlib.sha256(f"legacy-job:{legacy_id}".encode()).hexdigest(),
                status=status,
                params={
                    "legacy_status": _jsonable(old_status),
                    "legacy_total": _jsonable(total),
                    "legacy_completed": _jsonable(completed),
                },
                run_date=created_at[:10],
                total=int(count),
                message="; ".join(notes) or None,
                created_at=created_at,
                started_at=started_at,
                finished_at=finished_at,
            )
        if new:
            self.jobs.imported += 1
            self.jobs_interrupted += status == "interrupted"
            self.repairs.update(repairs)
        else:
            self.jobs.already_present += 1
        return len(errors_text)

    def _merge_windows(self) -> None:
        windows = sorted(self.job_windows, key=lambda w: w[0])
        merged: list[tuple[str, str | None]] = []
        for start, end in windows:
            if merged and (merged[-1][1] is None or start <= merged[-1][1]):
                last_start, last_end = merged[-1]
                wider = None if end is None or last_end is None else max(end, last_end)
                merged[-1] = (last_start, wider)
            else:
                merged.append((start, end))
        self.job_windows = merged
        self._window_starts = [start for start, _ in merged]

    def _is_orphan(self, created_at: str) -> bool:
        index = bisect.bisect_right(self._window_starts, created_at) - 1
        if index < 0:
            return True
        end = self.job_windows[index][1]
        return end is not None and created_at > end

    # -- results, pass 1: check every row, keep only small values --

    def _check_results(self) -> None:
        with self._old_errors():
            self._check_results_in_temp_table()
        self.progress(f"{self.results.read} old results checked")

    def _check_results_in_temp_table(self) -> None:
        self.old.execute(
            "CREATE TEMP TABLE legacy_rows (old_rowid INTEGER PRIMARY KEY, old_id, ticker TEXT,"
            " market_date TEXT, created_at TEXT, updated_at TEXT, score REAL, verdict TEXT,"
            " side TEXT, entry REAL, stop REAL, target REAL, source TEXT, status TEXT,"
            " repairs TEXT, problem TEXT, problem_text TEXT, winner INTEGER NOT NULL DEFAULT 0)"
        )
        columns = [c for c in OLD_DESIGN["analysis_results"] if c != "raw_data"]
        # raw_data is not read here: only the winners' raw data is, once, in pass 2.
        cursor = self.old.execute(
            f"SELECT rowid, {', '.join(columns)} FROM main.analysis_results ORDER BY rowid"
        )
        self.old.executemany(
            "INSERT INTO temp.legacy_rows VALUES"
            " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)",
            (self._checked_row(dict(zip(["rowid", *columns], row, strict=True))) for row in cursor),
        )
        # The newest created_at of each ticker and market date wins; a tie goes to the newest
        # old row. Only importable rows compete.
        self.old.execute(
            "UPDATE temp.legacy_rows SET winner = 1 WHERE old_rowid IN (SELECT old_rowid FROM"
            " (SELECT old_rowid, row_number() OVER (PARTITION BY ticker, market_date"
            "  ORDER BY created_at DESC, old_rowid DESC) AS rank"
            "  FROM temp.legacy_rows WHERE problem IS NULL) WHERE rank = 1)"
        )
        self.old.execute(
            "CREATE INDEX temp.legacy_rows_winners ON legacy_rows (ticker, market_date)"
            " WHERE winner = 1"
        )
        self.results_merged = int(
            self.old.execute(
                "SELECT count(*) FROM temp.legacy_rows WHERE problem IS NULL AND winner = 0"
            ).fetchone()[0]
        )

    def _checked_row(self, row: dict[str, Any]) -> tuple[Any, ...]:
        self.results.read += 1
        checked = check_result(row)
        if checked.problem is not None:
            self.unimportable[checked.problem] += 1
        if checked.created_at is not None and self._is_orphan(checked.created_at):
            self.orphans += 1
        if "results.analysis_source unrecognised -> unknown" in checked.repairs:
            if len(self.unknown_sources) < LIST_LIMIT:
                self.unknown_sources.add(_clean(str(row["analysis_source"])))
        return (
            row["rowid"], row["rowid"] if row["id"] is None else row["id"], checked.ticker,
            checked.market_date, checked.created_at, checked.updated_at, checked.score,
            checked.verdict, checked.side, checked.entry, checked.stop, checked.target,
            checked.source, checked.status, "\n".join(checked.repairs), checked.problem,
            checked.problem_text,
        )  # fmt: skip

    # -- results, pass 2: the winners, with their raw data --

    def _import_results(self) -> None:
        rows = self._read(
            "SELECT k.old_rowid, k.old_id, k.ticker, k.market_date, k.created_at, k.updated_at,"
            " k.score, k.verdict, k.side, k.entry, k.stop, k.target, k.source, k.status, k.repairs,"
            " r.raw_data, json_valid(r.raw_data)"
            " FROM temp.legacy_rows AS k JOIN main.analysis_results AS r ON r.rowid = k.old_rowid"
            " WHERE k.winner = 1 ORDER BY k.old_rowid"
        )
        self._batches(rows, self._import_result)

    def _import_result(self, row: tuple[Any, ...]) -> int:
        (old_rowid, old_id, ticker, market_date, created_at, updated_at, score, verdict, side,
         entry, stop, target, source, status, repairs, raw, valid) = row  # fmt: skip
        self._seen += 1
        if self._seen % PROGRESS_EVERY == 0:
            self.progress(f"{self._seen} results written or checked")
        existing = None if self.conn is None else store.result_on(self.conn, ticker, market_date)
        if existing is not None:
            result_id, imported_before = existing
            if imported_before:
                self.results.already_present += 1
            else:
                # stockscan's own analysis of that ticker and date is the better record.
                self.results_kept_existing += 1
                if self._out is not None:
                    self._emit(
                        {"reason": "existing", "existing_result_id": result_id,
                         "ticker": ticker, "market_date": market_date,
                         "row": self._old_row(old_rowid)}
                    )  # fmt: skip
            return 0
        payload, json_ok = raw_payload(raw, bool(valid))
        if not json_ok:
            self.invalid_json += 1
            if raw is None:
                self.repairs["results.raw_data NULL -> flagged payload"] += 1
        self.results.imported += 1
        self.tickers.add(ticker)
        self.repairs.update(r for r in repairs.split("\n") if r)
        if self.dry_run:
            return len(payload)
        assert self.conn is not None
        store.insert_legacy_result(
            self.conn,
            job_id=self._ensure_job(),
            legacy_result_id=old_id,
            ticker=ticker,
            analysis_date=market_date,
            status=status,
            score=score,
            verdict=verdict,
            side=side,
            entry=entry,
            stop=stop,
            target=target,
            analysis_source=source,
            created_at=created_at,
            updated_at=updated_at,
            payload=payload,
        )
        self._batch_tickers.add(ticker)
        return len(payload)

    def _old_row(self, old_rowid: int) -> dict[str, Any]:
        columns = OLD_DESIGN["analysis_results"]
        with self._old_errors():
            row = self.old.execute(
                f"SELECT {', '.join(columns)} FROM main.analysis_results WHERE rowid = ?",
                (old_rowid,),
            ).fetchone()
        return {name: _jsonable(value) for name, value in zip(columns, row, strict=True)}

    # -- the rows that were not imported --

    def _write_losers(self) -> None:
        if self._out is None:
            return
        columns = OLD_DESIGN["analysis_results"]
        cursor = self._read(
            "SELECT k.problem, k.problem_text, k.ticker, k.market_date, w.old_id, "
            + ", ".join(f"r.{c}" for c in columns)
            + " FROM temp.legacy_rows AS k"
            " JOIN main.analysis_results AS r ON r.rowid = k.old_rowid"
            " LEFT JOIN temp.legacy_rows AS w"
            "  ON w.winner = 1 AND w.ticker = k.ticker AND w.market_date = k.market_date"
            " WHERE k.winner = 0 ORDER BY k.old_rowid"
        )
        for problem, problem_text, ticker, market_date, kept, *values in cursor:
            old = {name: _jsonable(value) for name, value in zip(columns, values, strict=True)}
            if problem is None:
                self._emit(
                    {"reason": "duplicate", "kept_old_id": kept, "ticker": ticker,
                     "market_date": market_date, "row": old}
                )  # fmt: skip
            else:
                self._emit({"reason": "unimportable", "problem": problem_text, "row": old})

    # -- the end --

    def _finish(self) -> None:
        if self.dry_run or self.conn is None:
            return
        with transaction(self.conn):
            if self.job_id is not None:
                store.finish_legacy_import(self.conn, self.job_id, self._job_message())
            store.link_watchlist_to_latest(self.conn)

    def _job_message(self) -> str:
        unimportable = sum(self.unimportable.values())
        return (
            f"imported from the old system's {self.legacy.path}; its last run imported"
            f" {self.results.imported} results for {len(self.tickers)} tickers, merged"
            f" {self.results_merged} older duplicates, left out {unimportable} old rows that"
            f" could not be imported and {self.results_kept_existing} that stockscan's own"
            " results cover (`db import-legacy --dry-run --json` reports them again)"
        )

    def _report(self, legacy_before: int, seconds: float) -> dict[str, Any]:
        legacy_after = _size(self.legacy.path)
        unimportable = sum(self.unimportable.values())
        users = (
            f"stockscan has no users yet: {self.user_rows} watchlist rows of"
            f" {len(self.user_ids)} old user ids became one watchlist; user_id is not kept"
            if self.user_rows
            else "no old watchlist row had a user_id"
        )
        notes = list(self.legacy.notes)
        if self.unknown_sources:
            notes.append(
                "unrecognised old sources stored as 'unknown': "
                + ", ".join(sorted(self.unknown_sources))
            )
        return {
            "legacy_path": str(self.legacy.path),
            "database": str(self.db_path),
            "dry_run": self.dry_run,
            "job_id": self.job_id,
            "totals": {
                "rows_read": self.watchlist.read + self.jobs.read + self.results.read,
                "imported": self.watchlist.imported + self.jobs.imported + self.results.imported,
                "already_present": self.watchlist.already_present
                + self.jobs.already_present
                + self.results.already_present,
                "merged_duplicates": self.watchlist_merged + self.results_merged,
                "repaired": sum(self.repairs.values()),
                "orphans": self.orphans,
                "unimportable": self.invalid_symbol_count + self.jobs_unimportable + unimportable,
            },
            "watchlist": {
                "read": self.watchlist.read,
                "imported": self.watchlist.imported,
                "already_present": self.watchlist.already_present,
                "merged_duplicates": self.watchlist_merged,
                "invalid": self.invalid_symbol_count,
                "invalid_symbols": self.invalid_symbols,
            },
            "users": {
                "rows_with_user_id": self.user_rows,
                "distinct_user_ids": len(self.user_ids),
                "note": users,
            },
            "jobs": {
                "read": self.jobs.read,
                "imported": self.jobs.imported,
                "already_present": self.jobs.already_present,
                "interrupted": self.jobs_interrupted,
                "unimportable": self.jobs_unimportable,
            },
            "results": {
                "read": self.results.read,
                "imported": self.results.imported,
                "tickers": len(self.tickers),
                "already_imported": self.results.already_present,
                "kept_existing": self.results_kept_existing,
                "merged_duplicates": self.results_merged,
                "unimportable": unimportable,
                "unimportable_reasons": dict(sorted(self.unimportable.items())),
                "orphans": self.orphans,
                "invalid_json": self.invalid_json,
            },
            "repaired": dict(sorted(self.repairs.items())),
            "duplicates_file": None if self.duplicates_out is None else str(self.duplicates_out),
            "duplicates_written": self.written,
            "bytes": {
                "legacy_before": legacy_before,
                "legacy_after": legacy_after,
                "database_before": self.db_bytes_before,
                "database_after": db_size(self.db_path),
            },
            "notes": notes,
            "seconds": round(seconds, 3),
        }


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def db_size(path: Path) -> int:
    """The database as it stands: its file plus its write-ahead log."""
    return _size(path) + _size(path.with_name(path.name + "-wal"))


def import_legacy(
    legacy: LegacyFile,
    conn: sqlite3.Connection | None,
    db_path: Path,
    *,
    dry_run: bool = False,
    duplicates_out: Path | None = None,
    progress: Callable[[str], None] | None = None,
    db_bytes_before: int | None = None,
) -> dict[str, Any]:
    """Import ``legacy`` into the database ``conn`` (at ``db_path``); return the report."""
    return Importer(
        legacy,
        conn,
        db_path,
        dry_run=dry_run,
        duplicates_out=duplicates_out,
        progress=progress,
        db_bytes_before=db_bytes_before,
    ).run()


def report_lines(report: dict[str, Any]) -> list[str]:
    """The report as plain lines for a person."""
    would = "would be " if report["dry_run"] else ""
    w, j, r, t = report["watchlist"], report["jobs"], report["results"], report["totals"]
    b = report["bytes"]
    unchanged = "unchanged" if b["legacy_before"] == b["legacy_after"] else "SIZE CHANGED"
    lines = [
        ("Dry run, nothing written: " if report["dry_run"] else "Imported ")
        + f"{report['legacy_path']} into {report['database']}",
        f"  read         {t['rows_read']} rows: {w['read']} watchlist, {j['read']} jobs,"
        f" {r['read']} results",
        f"  watchlist    {w['imported']} {would}imported, {w['already_present']} already there,"
        f" {w['merged_duplicates']} merged duplicates, {w['invalid']} invalid symbols"
        + (f" ({', '.join(w['invalid_symbols'])})" if w["invalid_symbols"] else ""),
        f"  jobs         {j['imported']} {would}imported ({j['interrupted']} never finished:"
        f" interrupted), {j['already_present']} already there, {j['unimportable']} without id",
        f"  results      {r['imported']} {would}imported for {r['tickers']} tickers"
        + (f" into job {report['job_id']}" if report["job_id"] is not None else "")
        + f", {r['merged_duplicates']} duplicates merged (newest kept),"
        f" {r['already_imported']} already imported, {r['kept_existing']} kept stockscan's own",
    ]
    if r["unimportable"]:
        reasons = ", ".join(f"{k} {v}" for k, v in r["unimportable_reasons"].items())
        lines.append(f"  not imported {r['unimportable']} results ({reasons})")
    if report["repaired"]:
        repairs = ", ".join(f"{k} {v}" for k, v in report["repaired"].items())
        lines.append(f"  repaired     {t['repaired']} values: {repairs}")
    lines += [
        f"  orphans      {r['orphans']} results whose old job no longer exists"
        " (imported like the rest)",
        f"  raw data     {r['invalid_json']} not valid JSON, kept as text and flagged",
        f"  users        {report['users']['note']}",
        f"  bytes        old file {b['legacy_before']} -> {b['legacy_after']} ({unchanged}),"
        f" database {b['database_before']} -> {b['database_after']}",
    ]
    if report["duplicates_file"]:
        lines.append(
            f"  written      {report['duplicates_written']} rows not imported, with their"
            f" reasons, to {report['duplicates_file']}"
        )
    lines += [f"  note         {note}" for note in report["notes"]]
    return lines


def check_resumable(job: dict[str, Any]) -> None:
    """``jobs resume`` of a legacy job: say why not, and what to do instead."""
    if job["source"] != "legacy":
        return
    if job.get("legacy_job_id"):
        raise UsageError(
            f"job {job['id']} is the old system's job {job['legacy_job_id']}, imported by"
            " `db import-legacy`: it has no stock list here and cannot be resumed"
        )
    path = json.loads(job["params"]).get("legacy_path", "PATH")
    raise UsageError(
        f"job {job['id']} is an import from the old system: run"
        f" `stockscan db import-legacy {path}` again to continue it"
    )
