"""Retention: pruning old jobs, old raw data and demo data, and compacting the file.

Every prune checks what it relies on (no live job, no unfinished demo job), counts what it
will delete and what the foreign keys will do, then deletes, inside one ``BEGIN IMMEDIATE``
transaction: no job can start or change between the check and the delete, the report is
exactly what happened, and a crash leaves all of it or none of it. A dry run is the same
transaction rolled back, so it reports exactly what a real run would do at that moment.

What pruning a job does (also in the README): its stock rows go with it (ON DELETE CASCADE);
the results it wrote stay, as market facts, with ``job_id`` set to NULL; watchlist rows that
named it as their last job keep their last result. Running and interrupted jobs are never
pruned. Demo pruning deletes every demo result with its raw data, and the finished demo jobs
too, so no stock row is left "succeeded" without its result.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from stockscan import clock, store
from stockscan.db import Connection, changes, file_bytes, transaction
from stockscan.errors import JobsRunning, UsageError
from stockscan.locks import by_owner, lock_dir

# The least --prices-older-than: the yahoo source analyses two years of bars read from the
# cache (``YahooSource.period``), so bars younger than that are never trimmed.
MIN_PRICE_DAYS = 750
PRUNE_OPTIONS = (
    "--raw-older-than DAYS, --demo, --future-dated, --prices-unused-for DAYS and/or"
    " --prices-older-than DAYS"
)


@dataclass
class JobPrune:
    cutoff: str
    dry_run: bool
    job_ids: list[int] = field(default_factory=list)
    details_deleted: int = 0
    results_unlinked: int = 0
    watchlist_unlinked: int = 0
    lock_files_removed: int = 0
    lock_files_left: list[str] = field(default_factory=list)
    lock_files_error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "finished_before": self.cutoff,
            "jobs_deleted": len(self.job_ids),
            "job_ids": self.job_ids,
            "details_deleted": self.details_deleted,
            "results_kept_with_job_id_null": self.results_unlinked,
            "watchlist_last_job_unlinked": self.watchlist_unlinked,
            "lock_files_removed": self.lock_files_removed,
            "lock_files_left": self.lock_files_left,
        }


@dataclass
class DbPrune:
    dry_run: bool
    raw_before: str | None = None
    raw_results: int = 0
    raw_bytes: int = 0
    demo: bool = False
    demo_results: int = 0
    demo_raw_bytes: int = 0
    demo_details_unlinked: int = 0
    demo_watchlist_unlinked: int = 0
    demo_jobs: JobPrune | None = None
    prices_unused_before: str | None = None
    prices_before: str | None = None
    price_series: int = 0
    price_series_bars: int = 0
    price_old_bars: int = 0
    price_series_emptied: int = 0
    future_after: str | None = None
    future_results: int = 0
    future_raw_bytes: int = 0
    future_details_failed: int = 0
    future_job_ids: list[int] = field(default_factory=list)
    future_watchlist_unlinked: int = 0

    def as_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {"dry_run": self.dry_run}
        if self.prices_unused_before is not None or self.prices_before is not None:
            document["prices"] = {
                "unused_since": self.prices_unused_before,
                "series_deleted": self.price_series,
                "series_bars_deleted": self.price_series_bars,
                "market_date_before": self.prices_before,
                "old_bars_deleted": self.price_old_bars,
                "series_left_without_bars_deleted": self.price_series_emptied,
            }
        if self.raw_before is not None:
            document["raw"] = {
                "market_date_before": self.raw_before,
                "results_pruned": self.raw_results,
                "raw_bytes_deleted": self.raw_bytes,
            }
        if self.future_after is not None:
            document["future_dated"] = {
                "market_date_after": self.future_after,
                "results_deleted": self.future_results,
                "raw_bytes_deleted": self.future_raw_bytes,
                "details_failed": self.future_details_failed,
                "job_ids": self.future_job_ids,
                "watchlist_last_result_unlinked": self.future_watchlist_unlinked,
            }
        if self.demo:
            jobs = self.demo_jobs.as_json() if self.demo_jobs else {}
            document["demo"] = {
                "results_deleted": self.demo_results,
                "raw_bytes_deleted": self.demo_raw_bytes,
                "details_unlinked": self.demo_details_unlinked,
                "watchlist_last_result_unlinked": self.demo_watchlist_unlinked,
                "jobs_deleted": jobs.get("jobs_deleted", 0),
                "job_ids": jobs.get("job_ids", []),
                "job_details_deleted": jobs.get("details_deleted", 0),
                "watchlist_last_job_unlinked": jobs.get("watchlist_last_job_unlinked", 0),
                "lock_files_removed": jobs.get("lock_files_removed", 0),
                "lock_files_left": jobs.get("lock_files_left", []),
            }
        return document


def _check_days(option: str, days: int) -> None:
    if days < 0:
        raise UsageError(f"{option} {days}: must be 0 or more days")


def live_jobs(conn: Connection) -> list[store.Job]:
    """Running jobs whose owner process is alive (it holds the job's lock, stockscan.locks)."""
    alive, _ = by_owner(conn.path, store.running_jobs(conn))
    return alive


def _refuse_while_running(conn: Connection, what: str) -> None:
    live = live_jobs(conn)
    if live:
        job = live[0]
        raise JobsRunning(
            f"job {job['id']} is running (pid {job['owner_pid']} on {job['owner_host']}); "
            f"{what} would make it wait for the database: try again when it has finished"
        )


def _remove_lock_files(report: JobPrune, db_path: Path) -> None:
    """Lock files that versions before the OFD lock (stockscan.locks) left for deleted jobs.

    One that cannot be removed (a read-only lock directory) is left and reported, not raised:
    the deletion is committed, and a left lock file is harmless: no build since uses lock
    files, and job ids are AUTOINCREMENT, never handed out again (rebuild_tables carries the
    counter over).
    """
    for job_id in report.job_ids:
        path = lock_dir(db_path) / f"job-{job_id}.lock"
        try:
            path.unlink()
            report.lock_files_removed += 1
        except FileNotFoundError:
            pass
        except OSError as exc:
            report.lock_files_left.append(str(path))
            report.lock_files_error = exc.strerror or type(exc).__name__


def _prune_jobs_in_transaction(conn: sqlite3.Connection, report: JobPrune, ids: list[int]) -> None:
    effects = store.job_prune_effects(conn, ids)
    report.job_ids = ids
    report.details_deleted = effects["details_deleted"]
    report.results_unlinked = effects["results_unlinked"]
    report.watchlist_unlinked = effects["watchlist_unlinked"]
    store.delete_jobs(conn, ids)


def prune_jobs(
    conn: Connection,
    *,
    older_than_days: int,
    dry_run: bool = False,
    now: dt.datetime | None = None,
) -> JobPrune:
    """Delete finished jobs that finished more than ``older_than_days`` days ago."""
    _check_days("--older-than", older_than_days)
    cutoff = ((now or clock.now()) - dt.timedelta(days=older_than_days)).isoformat(
        timespec="milliseconds"
    )
    report = JobPrune(cutoff=cutoff, dry_run=dry_run)
    with changes(conn, dry_run=dry_run):
        ids = store.terminal_jobs(conn, finished_before=cutoff)
        _prune_jobs_in_transaction(conn, report, ids)
    if not dry_run:
        _remove_lock_files(report, conn.path)
    return report


def prune_db(
    conn: Connection,
    *,
    raw_older_than_days: int | None = None,
    demo: bool = False,
    future_dated: bool = False,
    prices_unused_days: int | None = None,
    prices_older_than_days: int | None = None,
    dry_run: bool = False,
    today: dt.date | None = None,
    now: dt.datetime | None = None,
) -> DbPrune:
    """Drop the raw data of results whose market date is older than ``raw_older_than_days``
    days (the results stay); delete every demo result and finished demo job; delete the cached
    prices of tickers not fetched for ``prices_unused_days`` days; trim cached bars older than
    ``prices_older_than_days`` days (at least ``MIN_PRICE_DAYS``); delete the results dated
    after the current market date (``future_dated``: bars an earlier version accepted), failing
    the stock rows that wrote them with ``bad_data``."""
    asked = (raw_older_than_days, prices_unused_days, prices_older_than_days)
    if all(days is None for days in asked) and not demo and not future_dated:
        raise UsageError(f"nothing to prune: give {PRUNE_OPTIONS}")
    if raw_older_than_days is not None:
        _check_days("--raw-older-than", raw_older_than_days)
    if prices_unused_days is not None:
        _check_days("--prices-unused-for", prices_unused_days)
    if prices_older_than_days is not None and prices_older_than_days < MIN_PRICE_DAYS:
        raise UsageError(
            f"--prices-older-than {prices_older_than_days}: must be at least {MIN_PRICE_DAYS}"
            " days; an analysis reads two years of bars from the cache"
        )
    report = DbPrune(dry_run=dry_run, demo=demo)
    pruned_at = clock.now().isoformat(timespec="seconds")
    with changes(conn, dry_run=dry_run):
        # The checks are made holding the write lock they protect: a job that started while
        # this command waited for the lock is seen here, and none can start until COMMIT.
        # Pruning a million raw rows holds the write lock for seconds: a running scan would
        # stall.
        _refuse_while_running(conn, "pruning")
        if demo:
            active = store.active_jobs(conn, source="demo")
            if active:
                ids = ", ".join(str(job["id"]) for job in active)
                raise UsageError(
                    f"demo job(s) {ids} not finished: their stocks would be left without "
                    f"results; finish them first (`stockscan jobs resume ID`)"
                )
            # The finished demo jobs first: their stock rows go with them, so no stock is left
            # "succeeded" pointing at a result that no longer exists.
            jobs = JobPrune(cutoff=pruned_at, dry_run=dry_run)
            _prune_jobs_in_transaction(conn, jobs, store.terminal_jobs(conn, source="demo"))
            report.demo_jobs = jobs
            effects = store.demo_prune_effects(conn)
            report.demo_results = effects["results_deleted"]
            report.demo_raw_bytes = effects["raw_bytes_deleted"]
            report.demo_details_unlinked = effects["details_unlinked"]
            report.demo_watchlist_unlinked = effects["watchlist_unlinked"]
            store.delete_demo_results(conn)
        if future_dated:
            from stockscan.market import market_today

            report.future_after = (today or market_today()).isoformat()
            future = store.future_prune_effects(conn, report.future_after)
            report.future_results = future["results_deleted"]
            report.future_raw_bytes = future["raw_bytes_deleted"]
            report.future_details_failed = future["details_failed"]
            report.future_job_ids = future["job_ids"]
            report.future_watchlist_unlinked = future["watchlist_unlinked"]
            store.delete_future_results(
                conn,
                report.future_after,
                f"its result was dated after the market date ({report.future_after}): deleted"
                f" by `db prune --future-dated` on {pruned_at[:10]}",
            )
        if raw_older_than_days is not None:
            before = (today or clock.now().date()) - dt.timedelta(days=raw_older_than_days)
            report.raw_before = before.isoformat()
            raw = store.raw_prune_effects(conn, report.raw_before)
            report.raw_results = raw["results"]
            report.raw_bytes = raw["raw_bytes_deleted"]
            store.prune_raw(conn, report.raw_before, pruned_at)
        if prices_unused_days is not None or prices_older_than_days is not None:
            moment = now or clock.now()
            if prices_unused_days is not None:
                unused = moment - dt.timedelta(days=prices_unused_days)
                report.prices_unused_before = unused.isoformat(timespec="seconds")
            if prices_older_than_days is not None:
                oldest = moment.date() - dt.timedelta(days=prices_older_than_days)
                report.prices_before = oldest.isoformat()
            bounds = {"unused_before": report.prices_unused_before,
                      "bars_before": report.prices_before}  # fmt: skip
            effects = store.price_prune_effects(conn, **bounds)
            report.price_series = effects["series_deleted"]
            report.price_series_bars = effects["series_bars_deleted"]
            report.price_old_bars = effects["old_bars_deleted"]
            report.price_series_emptied = effects["series_emptied"]
            store.prune_prices(conn, **bounds)
    if report.demo_jobs is not None and not dry_run:
        _remove_lock_files(report.demo_jobs, conn.path)
    return report


def vacuum(conn: Connection) -> dict[str, int]:
    """Rebuild the file to give free pages back to the disk; returns sizes before and after.

    SQLite cannot VACUUM inside a transaction, so the check that no job runs is made holding
    the write lock and VACUUM follows its COMMIT at once: a job that began waiting for the lock
    before the check is seen by it. One that asks for the lock in the microseconds between
    COMMIT and VACUUM waits for the vacuum like any writer (busy_timeout); at worst it exits 5
    (locked), its job left resumable, and nothing is lost.
    """
    with transaction(conn):
        _refuse_while_running(conn, "vacuum")
        free = store.storage(conn)
    before = file_bytes(conn.path)
    store.vacuum(conn)
    return {
        "bytes_before": before,
        "bytes_after": file_bytes(conn.path),
        "free_pages_before": free["free_pages"],
        "page_size": free["page_size"],
    }
