"""``stockscan jobs``: list, show and resume jobs."""

from __future__ import annotations

from typing import Annotated

import typer

from stockscan import vocab
from stockscan.cli.common import app, database, db_path, finish_job, handle_errors, job_reporter
from stockscan.cli.options import (
    DbOption,
    FetchWorkersOption,
    JsonOption,
    MaxRpsOption,
    PruneDryRunOption,
)
from stockscan.errors import UsageError

jobs_app = typer.Typer(help="Inspect and resume jobs.", no_args_is_help=True)
app.add_typer(jobs_app, name="jobs")

STATUSES = vocab.JOB_STATUSES
# The statuses that depend on whether the owner is alive (stockscan.jobs.with_liveness).
LIVE_STATUSES = vocab.ACTIVE_JOB_STATUSES


@jobs_app.command("list", epilog="Example:\n\n  stockscan jobs list --status partial --limit 5")
@handle_errors
def list_jobs(
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many jobs, newest first.")] = 20,
    status: Annotated[
        str | None,
        typer.Option("--status", help=f"Only jobs with this status ({', '.join(STATUSES)})."),
    ] = None,
    json_output: JsonOption = False,
    db: DbOption = None,
) -> None:
    """List jobs, newest first."""
    from stockscan import render, store
    from stockscan.db import snapshot
    from stockscan.jobs import with_liveness

    if status is not None and status not in STATUSES:
        raise UsageError(f"--status {status!r}: expected one of {', '.join(STATUSES)}")
    with database(db, create=False) as conn, snapshot(conn):
        if status in LIVE_STATUSES:
            # Running or interrupted is what the locks say now, not what is stored: a job
            # stored running whose owner is gone is listed (and filtered) as interrupted.
            stored = store.list_jobs(conn, limit=None, statuses=LIVE_STATUSES)
            rows = [job for job in (with_liveness(conn, j) for j in stored)
                    if job["effective_status"] == status][:limit]  # fmt: skip
        else:
            rows = [
                with_liveness(conn, j) for j in store.list_jobs(conn, limit=limit, status=status)
            ]
        total = store.count_jobs(conn) if not rows else 0
    if json_output:
        render.print_json(render.jobs_document(rows))
    elif rows:
        render.jobs_table(rows)
    elif status is not None and total:
        render.note(
            f"No jobs with status {status} ({total} job{'s' if total != 1 else ''} in all)."
        )
    else:
        render.note("No jobs yet.")


@jobs_app.command("show", epilog="Example:\n\n  stockscan jobs show 12 --json")
@handle_errors
def show(
    job_id: Annotated[int, typer.Argument(help="The job's id (from `jobs list`).")],
    json_output: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Show what happened in one job: its parameters, times, counts and every stock."""
    from stockscan import render, store
    from stockscan.db import snapshot
    from stockscan.jobs import JobOutcome, with_liveness

    with database(db, create=False) as conn, snapshot(conn):
        job = store.get_job(conn, job_id)
        if job is None:
            raise UsageError(f"no job {job_id} in {db_path(db)}")
        job = with_liveness(conn, job)
        stocks = store.job_stocks(conn, job_id)
    if json_output:
        render.print_json(render.outcome_json(JobOutcome(job, stocks)))
    else:
        render.job_detail(job, stocks)


@jobs_app.command("resume", epilog="Example:\n\n  stockscan jobs resume 12")
@handle_errors
def resume(
    job_id: Annotated[int, typer.Argument(help="The job's id.")],
    json_output: JsonOption = False,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Summary and failures only.")
    ] = False,
    max_rps: MaxRpsOption = None,
    fetch_workers: FetchWorkersOption = None,
    db: DbOption = None,
) -> None:
    """Continue an interrupted job (or retry a finished job's failures): only stocks not yet
    succeeded are redone."""
    from stockscan import jobs, legacy, store
    from stockscan.sources import Tuning

    tuning = Tuning(max_rps, fetch_workers)

    with database(db, create=False) as conn:
        job = store.get_job(conn, job_id)
        if job is None:
            raise UsageError(f"no job {job_id} in {db_path(db)}")
        legacy.check_resumable(job)
        reporter = job_reporter(json_output, quiet, job["source"])
        try:
            outcome = jobs.resume(conn, job_id, reporter, tuning=tuning)
        finally:
            reporter.close()
        finish_job(outcome, json_output, reporter)


@jobs_app.command(
    "prune",
    epilog="Examples:\n\n  stockscan jobs prune --older-than 90 --dry-run\n\n"
    "  stockscan jobs prune --older-than 90",
)
@handle_errors
def prune(
    older_than: Annotated[
        int,
        typer.Option(
            "--older-than",
            metavar="DAYS",
            help="Delete finished jobs that finished more than DAYS days ago.",
            show_default=False,
        ),
    ],
    dry_run: PruneDryRunOption = False,
    json_output: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Delete old finished jobs with their stock rows; the results they wrote stay."""
    from stockscan import render, retention

    with database(db, create=False) as conn:
        report = retention.prune_jobs(conn, older_than_days=older_than, dry_run=dry_run)
    if json_output:
        render.print_json(report.as_json())
    else:
        render.job_prune_report(report)
    render.lock_files_left(report)
