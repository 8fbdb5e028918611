"""The job loop and its state machine. Synchronous: one stock after another.

A job is ``running`` while a live process holds its lock (``locks.JobLock``), ``interrupted``
when it stopped early and can be resumed, and ends ``succeeded``, ``partial`` or ``failed``.
Each stock moves ``pending`` → ``running`` → ``succeeded`` | ``failed`` | ``skipped``; its result,
raw data and detail status commit together in one ``BEGIN IMMEDIATE`` transaction, so a crash
at any point leaves either all of a stock or none of it. Whatever was not committed as
succeeded is redone when the job is resumed, by the same command or ``jobs resume ID``.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from stockscan import signals, store
from stockscan.db import Connection, describe, is_busy, transaction
from stockscan.errors import (
    EXIT_NOTHING_ANALYSED,
    EXIT_OK,
    EXIT_SOME_FAILED,
    JobAlreadyRunning,
    JobInterrupted,
    SourceUnavailable,
    StockError,
    UsageError,
)
from stockscan.locks import JobLock, by_owner, owner_alive
from stockscan.market import last_weekday, market_today
from stockscan.request import JobRequest

if TYPE_CHECKING:
    from stockscan.analysis.model import Analysis, Bars
    from stockscan.position import Position
    from stockscan.sources import PriceSource, Tuning

# A stock is given up (failed, attempts_exhausted) once this many attempts in one job ended
# without success: a ticker that kills the process every time must not keep a nightly job
# from ever finishing.
MAX_STOCK_ATTEMPTS = 5
CHECKPOINTS = ("started", "fetched", "analysed", "written", "committed")


def checkpoint(name: str, position: int) -> None:
    """A named point of the per-stock write path. Does nothing; the crash battery
    (tests/reliability) replaces it to kill the process at each point in turn."""


@dataclass
class StockOutcome:
    ticker: str
    status: str  # succeeded | failed | skipped
    error_kind: str | None = None
    error_message: str | None = None
    result_id: int | None = None
    quantity: int | None = None
    analysis: Analysis | None = None
    note: str | None = None
    position: Position | None = None


@dataclass
class JobOutcome:
    job: store.Job
    stocks: list[store.JobStock] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if self.job["failed"] == 0:
            return EXIT_OK
        if self.job["succeeded"] + self.job["skipped"] > 0:
            return EXIT_SOME_FAILED
        return EXIT_NOTHING_ANALYSED


class Reporter(Protocol):
    """What the loop tells the user interface (``stockscan.render``) as it goes."""

    def job_started(self, job: Mapping[str, Any], *, resumed: bool, todo: int) -> None: ...

    def stock_started(self, ticker: str) -> None: ...

    def stock_finished(self, outcome: StockOutcome) -> None: ...


class SilentReporter:
    def job_started(self, job: Mapping[str, Any], *, resumed: bool, todo: int) -> None:
        pass

    def stock_started(self, ticker: str) -> None:
        pass

    def stock_finished(self, outcome: StockOutcome) -> None:
        pass


def run(
    conn: Connection,
    request: JobRequest,
    reporter: Reporter,
    *,
    source: PriceSource | None = None,
    tuning: Tuning | None = None,
) -> JobOutcome:
    """Run ``request`` as a job: a new one, or the same request's job whose owner died."""
    from stockscan.analysis import SCORING_VERSION

    source = source or request.source_for(conn, tuning)
    run_date = last_weekday().isoformat()
    key = request.key(run_date, SCORING_VERSION)
    lock: JobLock | None = None
    try:
        _refuse_if_owned(conn, store.find_active_job(conn, key))
        with (
            _owner_checked_on_busy(conn, lambda: store.find_active_job(conn, key)),
            transaction(conn),
        ):
            _interrupt_orphans(conn, except_key=key)
            claimed = claim_job(
                conn,
                key,
                lambda pid, host: store.create_job(
                    conn,
                    request_key=key,
                    source=request.source,
                    params=request.params(),
                    run_date=run_date,
                    tickers=request.tickers,
                    owner_pid=pid,
                    owner_host=host,
                ),
            )
            lock = claimed.lock
        return _work(conn, claimed.job_id, request, source, reporter, resumed=claimed.resumed)
    finally:
        if lock is not None:
            lock.release()


@dataclass(frozen=True)
class Claim:
    """A job this process now owns; its lock is held until ``lock.release()``."""

    job_id: int
    lock: JobLock
    resumed: bool  # an active job of the request, adopted; False: a new job


def claim_job(
    conn: Connection,
    request_key: str,
    create: Callable[[int, str], int],
) -> Claim:
    """The one way a process takes a job of ``request_key``, inside the caller's write
    transaction: the request's active job if its lock is free (a free lock proves its owner is
    gone), adopted; ``JobAlreadyRunning`` when a live process holds it; otherwise a new job,
    ``create(owner_pid, owner_host)``, locked before the caller's COMMIT so that no process
    ever sees it running without an owner. Never two active jobs for one request, and never
    one stuck under a dead owner."""
    pid, host = os.getpid(), _hostname()
    existing = store.find_active_job(conn, request_key)
    if existing is not None:
        lock = JobLock(conn.path, existing["id"])
        if not lock.try_acquire():
            raise JobAlreadyRunning(existing["id"], existing["owner_pid"], existing["owner_host"])
        try:
            store.adopt_job(conn, existing["id"], owner_pid=pid, owner_host=host)
        except BaseException:
            lock.release()
            raise
        return Claim(int(existing["id"]), lock, resumed=True)
    job_id = create(pid, host)
    lock = JobLock(conn.path, job_id)
    if not lock.try_acquire():  # pragma: no cover - a new id has never been locked
        raise RuntimeError(f"lock of new job {job_id} is held")
    return Claim(job_id, lock, resumed=False)


def resume(
    conn: Connection,
    job_id: int,
    reporter: Reporter,
    *,
    source: PriceSource | None = None,
    tuning: Tuning | None = None,
) -> JobOutcome:
    """Continue job ``job_id``: redo every stock not yet succeeded, with the job's parameters."""
    lock = JobLock(conn.path, job_id)
    try:
        _refuse_if_owned(conn, store.get_job(conn, job_id))
        with (
            _owner_checked_on_busy(conn, lambda: store.get_job(conn, job_id)),
            transaction(conn),
        ):
            job = store.get_job(conn, job_id)
            if job is None:
                raise UsageError(f"no job {job_id}")
            if not lock.try_acquire():
                raise JobAlreadyRunning(job_id, job["owner_pid"], job["owner_host"])
            if job["status"] == "succeeded":
                return JobOutcome(job, store.job_stocks(conn, job_id))
            # A legacy job has no source to fetch from: `jobs resume` refuses it before this
            # (legacy.check_resumable).
            assert job["source"] != "legacy", job
            request = JobRequest.from_params(
                tuple(s["ticker"] for s in store.job_stocks(conn, job_id)),
                job["source"],
                job["params"],
            )
            # Everything that can refuse the resume (an option the job's source does not take,
            # a data directory that moved) is checked before the job is touched: a refusal
            # leaves it exactly as it was.
            source = source or request.source_for(conn, tuning)
            try:
                store.adopt_job(conn, job_id, owner_pid=os.getpid(), owner_host=_hostname())
            except sqlite3.IntegrityError:
                # A finished job made active again would clash with a newer active job for
                # the same request (idx_jobs_active_request).
                other = store.find_active_job(conn, job["request_key"])
                if other is None:
                    raise
                raise JobAlreadyRunning(
                    other["id"], other["owner_pid"], other["owner_host"]
                ) from None
        return _work(conn, job_id, request, source, reporter, resumed=True)
    finally:
        lock.release()


def _refuse_if_owned(conn: Connection, job: Mapping[str, Any] | None) -> None:
    """Exit 3 when ``job`` has a live owner, whatever that owner is doing.

    Called with a job found by a plain read, before asking for the write lock: a WAL reader
    never waits for a writer, so an owner paused inside its write transaction (SIGSTOP, a
    debugger, a closed laptop lid) is reported as running at once, not as a database locked
    for 5 s.
    """
    if job is not None and owner_alive(conn.path, job["id"]):
        raise JobAlreadyRunning(job["id"], job["owner_pid"], job["owner_host"])


@contextmanager
def _owner_checked_on_busy(
    conn: Connection, find: Callable[[], Mapping[str, Any] | None]
) -> Iterator[None]:
    """If the write lock cannot be had in time, look again (a read) before reporting a locked
    database: the job may have gained a live owner since the first look."""
    try:
        yield
    except sqlite3.OperationalError as exc:
        if is_busy(exc):
            _refuse_if_owned(conn, find())
        raise


def _hostname() -> str:
    import socket  # only jobs that run need it; read commands import this module too

    return socket.gethostname()


def _interrupt_orphans(conn: Connection, *, except_key: str) -> None:
    """Mark ``interrupted`` every running job of another request whose owner is dead.

    Only a free lock proves death; a live owner's job is left alone however old it is.
    """
    others = (job for job in store.running_jobs(conn) if job["request_key"] != except_key)
    _, orphans = by_owner(conn.path, others)
    for job in orphans:
        store.interrupt_job(conn, job["id"], f"owner pid {job['owner_pid']} died before finishing")


def _work(
    conn: sqlite3.Connection,
    job_id: int,
    request: JobRequest,
    source: PriceSource,
    reporter: Reporter,
    *,
    resumed: bool,
) -> JobOutcome:
    from stockscan.sources import fetching_ahead

    todo = store.unfinished_stocks(conn, job_id)
    job = store.get_job(conn, job_id)
    assert job is not None
    reporter.job_started(job, resumed=resumed, todo=len(todo))
    will_fetch = [stock.ticker for stock in todo if stock.attempts < MAX_STOCK_ATTEMPTS]
    with signals.interrupts_as_ctrl_c():
        try:
            # The source may download ahead of the loop (yahoo: a bounded pool of threads);
            # whatever ends the loop (done, Ctrl-C, the breaker, a database error) stops them.
            with fetching_ahead(source, will_fetch):
                for stock in todo:
                    reporter.stock_started(stock.ticker)
                    outcome = _process_stock(conn, job_id, stock, source, request)
                    reporter.stock_finished(outcome)
            # Inside the try: a Ctrl-C between the last stock and this commit must still leave
            # the job marked interrupted, not running under a dead owner.
            checkpoint("finishing", 0)
            with transaction(conn):
                finished = store.finish_job(conn, job_id)
        except KeyboardInterrupt as exc:
            with signals.ignored(), transaction(conn):
                store.interrupt_job(conn, job_id, f"interrupted by {signals.interrupt_name(exc)}")
            raise JobInterrupted(
                f"interrupted; job {job_id} is left resumable: run the same command again "
                f"or `stockscan jobs resume {job_id}`"
            ) from None
        except SourceUnavailable as exc:
            with signals.ignored(), transaction(conn):
                store.interrupt_job(conn, job_id, str(exc))
            raise SourceUnavailable(
                f"{exc}; job {job_id} stopped early and is resumable: "
                f"`stockscan jobs resume {job_id}`"
            ) from exc
        except Exception as exc:
            # Whatever else ends the loop (the database refusing a write — a full disk, an I/O
            # error — or a bug), the process is about to exit: the job must not stay `running`
            # under an owner that is gone. A database that refuses this write too leaves it
            # for the lock to tell (the next run or `jobs resume` adopts it); the original
            # error is the one raised.
            why = (
                f"a database error: {describe(exc)}"
                if isinstance(exc, sqlite3.Error)
                else f"{type(exc).__name__}: {exc}"
            )
            with signals.ignored(), suppress(sqlite3.Error), transaction(conn):
                store.interrupt_job(conn, job_id, f"stopped by {why}")
            raise
    return JobOutcome(finished, store.job_stocks(conn, job_id))


def _process_stock(
    conn: sqlite3.Connection,
    job_id: int,
    stock: store.PendingStock,
    source: PriceSource,
    request: JobRequest,
) -> StockOutcome:
    from stockscan.analysis import analyze
    from stockscan.analysis.plan import exchange_of
    from stockscan.analysis.validation import check_not_after

    detail_id, ticker, position = stock.detail_id, stock.ticker, stock.position
    if stock.attempts >= MAX_STOCK_ATTEMPTS:
        last = (
            f"{stock.error_kind}: {stock.error_message}"
            if stock.error_kind
            else "ended without an outcome (the process was killed or interrupted)"
        )
        failure = StockError(
            "attempts_exhausted", f"gave up after {stock.attempts} attempts; the last: {last}"
        )
        with transaction(conn):
            store.fail_stock(conn, job_id, detail_id, ticker, failure.kind, failure.message)
        return StockOutcome(ticker, "failed", failure.kind, failure.message)
    with transaction(conn):
        store.start_stock(conn, job_id, detail_id)
    checkpoint("started", position)
    try:
        bars, provenance = source.fetch(ticker)
        check_not_after(bars, market_today())
        checkpoint("fetched", position)
        if request.skip_unchanged:
            kept = _keep_unchanged(conn, job_id, stock, source.name, bars, request)
            if kept is not None:
                return kept
        analysis = analyze(bars, exchange=exchange_of(ticker))
        raw_payload = json.dumps(analysis.raw, separators=(",", ":"), allow_nan=False)
        held = request.position(ticker, analysis.plan)
        quantity = held.quantity
        checkpoint("analysed", position)
    except StockError as exc:
        failure = exc
    except (SourceUnavailable, sqlite3.Error):
        raise
    except Exception as exc:  # boundary: any other failure is recorded against this stock
        failure = StockError("compute_error", f"{type(exc).__name__}: {exc}")
    else:
        with transaction(conn):
            result_id, skip_reason = store.save_result(
                conn,
                job_id=job_id,
                detail_id=detail_id,
                ticker=ticker,
                source=source.name,
                analysis=analysis,
                raw_payload=raw_payload,
                quantity=quantity,
                fetched_at=provenance.fetched_at,
                source_version=provenance.source_version,
                auto_adjust=provenance.auto_adjust,
            )
            checkpoint("written", position)
        checkpoint("committed", position)
        if result_id is None:
            return StockOutcome(ticker, "skipped", "demo_over_real", skip_reason, analysis=analysis)
        return StockOutcome(
            ticker, "succeeded", None, None, result_id, quantity, analysis, position=held
        )
    with transaction(conn):
        store.fail_stock(conn, job_id, detail_id, ticker, failure.kind, failure.message)
    return StockOutcome(ticker, "failed", failure.kind, failure.message)


def _keep_unchanged(
    conn: sqlite3.Connection,
    job_id: int,
    stock: store.PendingStock,
    source_name: str,
    bars: Bars,
    request: JobRequest,
) -> StockOutcome | None:
    """The stock's existing result when the bars bring nothing new: same market date, same
    source, same scoring version, and both bars complete. None when it must be analysed."""
    from stockscan.analysis import SCORING_VERSION
    from stockscan.position import Levels

    date = bars.last_date.isoformat()
    existing = store.find_result(conn, stock.ticker, on=date)
    if (
        existing is None
        or not bars.last_bar_complete
        or existing["status"] != "complete"
        or existing["analysis_source"] != source_name
        or existing["scoring_version"] != SCORING_VERSION
    ):
        return None
    held = request.position(stock.ticker, Levels.of_row(existing))
    quantity = held.quantity
    note = f"no new bars since {date}"
    with transaction(conn):
        store.keep_result(
            conn, job_id=job_id, detail_id=stock.detail_id, ticker=stock.ticker,
            result_id=existing["id"], quantity=quantity, note=note,
        )  # fmt: skip
    return StockOutcome(
        stock.ticker, "succeeded", result_id=existing["id"], quantity=quantity, note=note,
        position=held,
    )  # fmt: skip


def with_liveness(conn: Connection, job: store.Job) -> store.LiveJob:
    """The job with what its stored status means now, read from its lock, for listings:
    ``owner_alive`` (None unless the job is stored ``running``) and ``effective_status``,
    which is ``interrupted`` for a running job whose owner is gone. Nothing is written: the
    stored status stays until the same command, ``jobs resume`` or the orphan sweep of the
    next job changes it."""
    alive = owner_alive(conn.path, job["id"]) if job["status"] == "running" else None
    status = "interrupted" if alive is False else job["status"]
    return store.LiveJob(**job, owner_alive=alive, effective_status=status)
