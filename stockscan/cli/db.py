"""``stockscan db``: information, checks and migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stockscan.cli.common import app, database, db_path, handle_errors
from stockscan.cli.options import DbOption, JsonOption, PruneDryRunOption
from stockscan.db import file_bytes
from stockscan.errors import DatabaseError, UsageError
from stockscan.retention import MIN_PRICE_DAYS

db_app = typer.Typer(help="Inspect, check and migrate the database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("info", epilog="Example:\n\n  stockscan db info --json")
@handle_errors
def info(json_output: JsonOption = False, db: DbOption = None) -> None:
    """Show the database path, schema version, row counts and size."""
    from stockscan import render, store
    from stockscan.migrations import applied

    path = db_path(db)
    with database(db, create=False) as conn:
        versions = applied(conn)
        counts = store.table_counts(conn)
        price_cache = store.price_cache_size(conn)
    size = file_bytes(path)
    document = render.db_info_document(path, versions, counts, price_cache, size)
    if json_output:
        render.print_json(document)
    else:
        render.db_info(document)


@db_app.command("check", epilog="Example:\n\n  stockscan db check --db ~/scans/nightly.db")
@handle_errors
def check(json_output: JsonOption = False, db: DbOption = None) -> None:
    """Run SQLite's integrity and foreign-key checks and look for results dated after the
    current market date; exit 5 if any finds a problem."""
    from stockscan import render, store
    from stockscan.market import market_today

    with database(db, create=False) as conn:
        problems = store.check(conn, newest_date=market_today().isoformat())
    if json_output:
        render.print_json(render.db_check_document(problems))
    else:
        render.db_check(problems)
    if any(problems.values()):
        raise DatabaseError(f"{db_path(db)}: check failed")


@db_app.command(
    "migrate", epilog="Example:\n\n  STOCKSCAN_DB=~/scans/nightly.db stockscan db migrate"
)
@handle_errors
def migrate(db: DbOption = None) -> None:
    """Create the database or bring it to the current schema (every command does this too)."""
    from stockscan import render
    from stockscan.migrations import applied

    with database(db) as conn:
        versions = applied(conn)
    render.db_migrated(db_path(db), versions)


@db_app.command(
    "prune",
    epilog="Examples:\n\n  stockscan db prune --raw-older-than 180 --dry-run\n\n"
    "  stockscan db prune --demo\n\n  stockscan db prune --prices-unused-for 30",
)
@handle_errors
def prune(
    raw_older_than: Annotated[
        int | None,
        typer.Option(
            "--raw-older-than",
            metavar="DAYS",
            help="Drop the raw indicator data of results whose market date is more than DAYS"
            " days ago; the results stay.",
            show_default=False,
        ),
    ] = None,
    demo: Annotated[
        bool,
        typer.Option("--demo", help="Delete every demo result, with its raw data and demo jobs."),
    ] = False,
    future_dated: Annotated[
        bool,
        typer.Option(
            "--future-dated",
            help="Delete results dated after the current market date (bars an earlier version"
            " accepted); the stock rows that wrote them become failed (bad_data).",
        ),
    ] = False,
    prices_unused_for: Annotated[
        int | None,
        typer.Option(
            "--prices-unused-for",
            metavar="DAYS",
            help="Delete the cached prices of tickers not fetched for DAYS days (no longer"
            " scanned); fetched whole again if ever asked for.",
            show_default=False,
        ),
    ] = None,
    prices_older_than: Annotated[
        int | None,
        typer.Option(
            "--prices-older-than",
            metavar="DAYS",
            help="Delete cached bars dated more than DAYS days ago (at least"
            f" {MIN_PRICE_DAYS}: an analysis reads two years).",
            show_default=False,
        ),
    ] = None,
    dry_run: PruneDryRunOption = False,
    json_output: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Drop old raw data, all demo data, future-dated results and/or old cached prices, in
    one transaction."""
    from stockscan import render, retention

    asked = (raw_older_than, prices_unused_for, prices_older_than)
    if all(days is None for days in asked) and not demo and not future_dated:
        raise UsageError(f"nothing to prune: give {retention.PRUNE_OPTIONS}")
    with database(db, create=False) as conn:
        report = retention.prune_db(
            conn, raw_older_than_days=raw_older_than, demo=demo,
            future_dated=future_dated, prices_unused_days=prices_unused_for,
            prices_older_than_days=prices_older_than, dry_run=dry_run,
        )  # fmt: skip
    if json_output:
        render.print_json(report.as_json())
    else:
        render.db_prune_report(report)
    if report.demo_jobs is not None:
        render.lock_files_left(report.demo_jobs)


@db_app.command("vacuum", epilog="Example:\n\n  stockscan db prune --demo && stockscan db vacuum")
@handle_errors
def vacuum(json_output: JsonOption = False, db: DbOption = None) -> None:
    """Rebuild the database file to give space freed by pruning back to the disk."""
    from stockscan import render, retention

    with database(db, create=False) as conn:
        sizes = retention.vacuum(conn)
    if json_output:
        render.print_json(sizes)
    else:
        render.db_vacuumed(db_path(db), sizes)


@db_app.command("schema", epilog="Example:\n\n  stockscan db schema > schema.sql")
@handle_errors
def schema() -> None:
    """Print the schema the migrations build (this is how schema.sql is generated)."""
    import sqlite3

    from stockscan.migrations import migrate as run_migrations
    from stockscan.migrations import schema_sql

    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        run_migrations(conn)
        typer.echo(schema_sql(conn), nl=False)
    finally:
        conn.close()


@db_app.command(
    "import-legacy",
    epilog="Examples:\n\n  stockscan db import-legacy old/stocks.db --dry-run\n\n"
    "  stockscan db import-legacy old/stocks.db --keep-duplicates-in not-imported.ndjson",
)
@handle_errors
def import_legacy(
    path: Annotated[
        Path,
        typer.Argument(
            help="The old system's SQLite file. It is opened read-only and never changed.",
            show_default=False,
        ),
    ],
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Read and count everything; write nothing to --db."),
    ] = False,
    keep_duplicates_in: Annotated[
        Path | None,
        typer.Option(
            "--keep-duplicates-in",
            metavar="FILE",
            dir_okay=False,
            help="Write every old result that is not imported to FILE as NDJSON, each with its"
            " reason: older duplicates of a ticker and day, rows that cannot be imported, rows"
            " a stockscan result already covers.",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Import a database of the old three-table system; running it again imports nothing twice.

    Watchlist, jobs (keeping their UUID) and results, one per ticker and market day (the day of
    the old created_at; the newest row wins), with their raw data. Prints what was read,
    imported, merged, repaired and left out.
    """
    from stockscan import legacy, render

    target = db_path(db)
    legacy.refuse_overlaps(path, target, keep_duplicates_in)
    progress = render.note if render.stderr.is_terminal else None
    size_before = file_bytes(target)
    with legacy.open_legacy(path) as old:
        if dry_run and not target.exists():
            report = legacy.import_legacy(
                old,
                target,
                dry_run=True,
                duplicates_out=keep_duplicates_in,
                progress=progress,
                db_bytes_before=size_before,
            )
        else:
            with database(db, create=not dry_run) as conn:
                report = legacy.import_legacy(
                    old,
                    conn,
                    dry_run=dry_run,
                    duplicates_out=keep_duplicates_in,
                    progress=progress,
                    db_bytes_before=size_before,
                )
    if json_output:
        render.print_json(report.as_json())
    else:
        render.db_import_report(report)
