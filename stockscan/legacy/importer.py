"""One run of ``db import-legacy``: the old file read in passes, the new rows written in
batches.

Memory stays bounded at any file size: the old tables are read through cursors, never
``fetchall``; duplicates are resolved in a temporary table of the old file's connection
(SQLite spills it to disk), and the new rows are written in transactions of at most
``BATCH_ROWS`` rows or ``BATCH_BYTES`` of raw data each. An interrupted import leaves its job
``interrupted``; the same command continues it.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext, suppress
from pathlib import Path
from typing import IO, Any

from stockscan import store
from stockscan.db import Connection, changes, file_bytes, transaction, unspilled
from stockscan.errors import JobInterrupted, UsageError
from stockscan.jobs import claim_job
from stockscan.legacy.mapping import (
    UNKNOWN_SOURCE_REPAIR,
    JobWindows,
    check_job,
    check_result,
    clean,
    jsonable,
    raw_payload,
    timestamp,
)
from stockscan.legacy.oldfile import OLD_DESIGN, LegacyFile
from stockscan.legacy.report import LIST_LIMIT, LegacyReport, file_size
from stockscan.locks import JobLock
from stockscan.tickers import normalise

BATCH_ROWS = 500
BATCH_BYTES = 16 * 1024 * 1024
PROGRESS_EVERY = 10_000


def import_request_key(path: Path) -> str:
    """The request key of importing the old file at ``path``: while one import of it is
    active (idx_jobs_active_request), no second one can start."""
    return hashlib.sha256(json.dumps({"legacy_import": str(path.resolve())}).encode()).hexdigest()


class Importer:
    """One run of ``db import-legacy`` into the database ``conn``; the report names and
    measures ``database`` (``conn.path`` unless a dry run stands in for it).

    A dry run is the real run with each of its transactions rolled back (``db.changes``): the
    same checks, claims and writes decide every count, and none of them is kept.
    """

    def __init__(
        self,
        legacy: LegacyFile,
        conn: Connection,
        *,
        dry_run: bool,
        duplicates_out: Path | None = None,
        progress: Callable[[str], None] | None = None,
        db_bytes_before: int | None = None,
        database: Path | None = None,
    ) -> None:
        self.database = conn.path if database is None else database
        self.legacy = legacy
        self.old = legacy.conn
        self.conn = conn
        self.dry_run = dry_run
        self.duplicates_out = duplicates_out
        self.progress = progress or (lambda message: None)
        self.request_key = import_request_key(legacy.path)
        self.lock: JobLock | None = None
        self.report = LegacyReport(
            legacy_path=legacy.path,
            database=self.database,
            dry_run=dry_run,
            # Measured by the caller before opening (and so creating and migrating) the database.
            database_before=file_bytes(self.database)
            if db_bytes_before is None
            else db_bytes_before,
            duplicates_file=duplicates_out,
            notes=list(legacy.notes),
        )
        self.job_windows = JobWindows()
        self._out: IO[str] | None = None
        self._batch_tickers: set[str] = set()
        self._seen = 0

    @property
    def job_id(self) -> int | None:
        return self.report.job_id

    # -- plumbing --

    @contextmanager
    def _tx(self) -> Iterator[None]:
        """One write transaction of the run; a dry run's is rolled back, and the import job it
        created or adopted goes with it, so the next transaction claims it again."""
        try:
            with changes(self.conn, dry_run=self.dry_run):
                yield
        finally:
            if self.dry_run:
                self._release_job()

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
        if self.job_id is not None:
            for ticker in sorted(self._batch_tickers):
                store.record_legacy_ticker(self.conn, self.job_id, ticker)
        self._batch_tickers = set()

    def _emit(self, line: dict[str, Any]) -> None:
        if self._out is not None:
            self._out.write(json.dumps(line, separators=(",", ":")) + "\n")
            self.report.duplicates_written += 1

    # -- the run --

    def run(self) -> LegacyReport:
        # A dry run's batch, bounded (BATCH_ROWS, BATCH_BYTES), is rolled back from memory:
        # the WAL, counted in the report's bytes, does not grow.
        with unspilled(self.conn) if self.dry_run else nullcontext():
            return self._run()

    def _run(self) -> LegacyReport:
        started = time.monotonic()
        self.report.legacy_before = file_size(self.legacy.path)
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
            with self.legacy.errors():
                self.old.execute("BEGIN")
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
            self._release_job(keep_id=True)
            if self._out is not None:
                self._out.close()
            if tmp is not None and not done:
                tmp.unlink(missing_ok=True)
        if tmp is not None and self.duplicates_out is not None:
            os.replace(tmp, self.duplicates_out)
        self.report.legacy_after = file_size(self.legacy.path)
        self.report.database_after = file_bytes(self.database)
        self.report.seconds = time.monotonic() - started
        return self.report

    def _adopt_interrupted_import(self) -> None:
        """An earlier import of this file that stopped half-way is continued, not duplicated;
        one that is still running in a live process stops this one (exit 3)."""
        with self._tx():
            if store.find_active_job(self.conn, self.request_key) is not None:
                self._claim_job()

    def _ensure_job(self) -> int:
        """The import job, created with the first result that is actually new."""
        if self.job_id is None:
            # Another import of the same file may have started since this one began: the
            # claim adopts its job if it is gone, and stops here if it runs.
            self._claim_job()
        assert self.job_id is not None
        return self.job_id

    def _claim_job(self) -> None:
        conn = self.conn

        def create(owner_pid: int, owner_host: str) -> int:
            from stockscan.market import last_weekday

            return store.create_job(
                conn,
                request_key=self.request_key,
                source="legacy",
                params={"legacy_path": str(self.legacy.path.resolve())},
                run_date=last_weekday().isoformat(),
                tickers=[],
                owner_pid=owner_pid,
                owner_host=owner_host,
            )

        claimed = claim_job(conn, self.request_key, create)
        self.lock = claimed.lock
        self.report.job_id = claimed.job_id

    def _release_job(self, *, keep_id: bool = False) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None
        if not keep_id:
            self.report.job_id = None

    def _interrupted(self) -> bool:
        """Leave the import job resumable, as the job loop does; False when there is none."""
        if self.job_id is None or self.dry_run:
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
        counts = self.report.watchlist
        # Watchlists are small (one row per followed ticker): merged in memory.
        merged: dict[str, tuple[str | None, str | None]] = {}
        for symbol, name, user_id, created_at in self.legacy.read(
            "SELECT symbol, name, user_id, created_at FROM watchlist ORDER BY id"
        ):
            counts.read += 1
            if user_id is not None:
                counts.user_rows += 1
                counts.user_ids.add(user_id)
            try:
                ticker = normalise("" if symbol is None else str(symbol))
            except UsageError:
                counts.invalid += 1
                if len(counts.invalid_symbols) < LIST_LIMIT:
                    counts.invalid_symbols.append(clean(repr(symbol)))
                continue
            name = None if name is None else clean(str(name))
            if ticker in merged:  # e.g. 'tcs.ns' and 'TCS.NS'
                counts.merged_duplicates += 1
                if merged[ticker][0] is None:
                    merged[ticker] = (name, merged[ticker][1])
                continue
            merged[ticker] = (name, timestamp(created_at))
        with self._tx():
            for ticker, (name, added_at) in merged.items():
                new = store.insert_legacy_watchlist(
                    self.conn, ticker, name, added_at or store.now_iso()
                )
                if not new:
                    counts.already_present += 1
                    continue
                counts.imported += 1
                if added_at is None:
                    self.report.repaired["watchlist.created_at NULL -> import time"] += 1

    # -- jobs --

    def _import_jobs(self) -> None:
        columns = OLD_DESIGN["analysis_jobs"]
        rows = self.legacy.read(f"SELECT {', '.join(columns)} FROM analysis_jobs ORDER BY rowid")
        self._batches(
            (dict(zip(columns, row, strict=True)) for row in rows),
            self._import_job,
        )
        self.job_windows.merge()
        self.progress(f"{self.report.jobs.read} old jobs read")

    def _import_job(self, row: dict[str, Any]) -> int:
        counts = self.report.jobs
        counts.read += 1
        job = check_job(row, now=store.now_iso())
        if job.window is not None:
            self.job_windows.add(job.window)
        if job.values is None:
            counts.unimportable += 1
            return 0
        if store.insert_legacy_job(self.conn, **job.values):
            counts.imported += 1
            counts.interrupted += job.values["status"] == "interrupted"
            self.report.repaired.update(job.repairs)
        else:
            counts.already_present += 1
        return job.size

    # -- results, pass 1: check every row, keep only small values --

    def _check_results(self) -> None:
        with self.legacy.errors():
            self._check_results_in_temp_table()
        self.progress(f"{self.report.results.read} old results checked")

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
        self.report.results.merged_duplicates = int(
            self.old.execute(
                "SELECT count(*) FROM temp.legacy_rows WHERE problem IS NULL AND winner = 0"
            ).fetchone()[0]
        )

    def _checked_row(self, row: dict[str, Any]) -> tuple[Any, ...]:
        self.report.results.read += 1
        checked = check_result(row)
        if checked.problem is not None:
            self.report.results.unimportable[checked.problem] += 1
        if checked.created_at is not None and self.job_windows.is_orphan(checked.created_at):
            self.report.results.orphans += 1
        if UNKNOWN_SOURCE_REPAIR in checked.repairs:
            if len(self.report.results.unknown_sources) < LIST_LIMIT:
                self.report.results.unknown_sources.add(clean(str(row["analysis_source"])))
        return (
            row["rowid"], row["rowid"] if row["id"] is None else row["id"], checked.ticker,
            checked.market_date, checked.created_at, checked.updated_at, checked.score,
            checked.verdict, checked.side, checked.entry, checked.stop, checked.target,
            checked.source, checked.status, "\n".join(checked.repairs), checked.problem,
            checked.problem_text,
        )  # fmt: skip

    # -- results, pass 2: the winners, with their raw data --

    def _import_results(self) -> None:
        rows = self.legacy.read(
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
        existing = store.find_result(self.conn, ticker, on=market_date)
        if existing is not None:
            result_id = existing["id"]
            if existing["legacy_result_id"] is not None:
                self.report.results.already_present += 1
            else:
                # stockscan's own analysis of that ticker and date is the better record.
                self.report.results.kept_existing += 1
                if self._out is not None:
                    self._emit(
                        {"reason": "existing", "existing_result_id": result_id,
                         "ticker": ticker, "market_date": market_date,
                         "row": self.legacy.result_row(old_rowid)}
                    )  # fmt: skip
            return 0
        payload, json_ok = raw_payload(raw, bool(valid))
        if not json_ok:
            self.report.results.invalid_json += 1
            if raw is None:
                self.report.repaired["results.raw_data NULL -> flagged payload"] += 1
        self.report.results.imported += 1
        self.report.results.tickers.add(ticker)
        self.report.repaired.update(r for r in repairs.split("\n") if r)
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

    # -- the rows that were not imported --

    def _write_losers(self) -> None:
        if self._out is None:
            return
        columns = OLD_DESIGN["analysis_results"]
        cursor = self.legacy.read(
            "SELECT k.problem, k.problem_text, k.ticker, k.market_date, w.old_id, "
            + ", ".join(f"r.{c}" for c in columns)
            + " FROM temp.legacy_rows AS k"
            " JOIN main.analysis_results AS r ON r.rowid = k.old_rowid"
            " LEFT JOIN temp.legacy_rows AS w"
            "  ON w.winner = 1 AND w.ticker = k.ticker AND w.market_date = k.market_date"
            " WHERE k.winner = 0 ORDER BY k.old_rowid"
        )
        for problem, problem_text, ticker, market_date, kept, *values in cursor:
            old = {name: jsonable(value) for name, value in zip(columns, values, strict=True)}
            if problem is None:
                self._emit(
                    {"reason": "duplicate", "kept_old_id": kept, "ticker": ticker,
                     "market_date": market_date, "row": old}
                )  # fmt: skip
            else:
                self._emit({"reason": "unimportable", "problem": problem_text, "row": old})

    # -- the end --

    def _finish(self) -> None:
        with self._tx():
            if self.job_id is not None:
                store.finish_legacy_import(self.conn, self.job_id, self.report.job_message())
            store.link_watchlist_to_latest(self.conn)
