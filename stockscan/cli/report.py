"""``stockscan report``: one self-contained HTML file for a scan, made to be e-mailed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from stockscan.cli.common import app, database, db_path, handle_errors
from stockscan.cli.options import (
    DbOption,
    ScreenOption,
    WhereOption,
    parse_screen_name,
    parse_where,
    screening,
)
from stockscan.cli.output import output_file
from stockscan.errors import UsageError


@app.command(
    "report",
    epilog="Examples:\n\n  stockscan report --latest --output scan.html\n\n"
    "  stockscan report --job 12 -o job12.html --force",
)
@handle_errors
def report(
    output: Annotated[
        Path,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="The HTML file to write.",
            dir_okay=False,
            show_default=False,
        ),
    ],
    job_id: Annotated[
        int | None,
        typer.Option("--job", metavar="ID", help="The job to report on.", show_default=False),
    ] = None,
    latest: Annotated[
        bool, typer.Option("--latest", help="Report on the newest job (the default).")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
    where: WhereOption = None,
    screen_name: ScreenOption = None,
    db: DbOption = None,
) -> None:
    """Write an HTML report of a scan: summary, changes, BUY-side charts and failures."""
    from stockscan import render, store
    from stockscan.charts.report import gather, to_html
    from stockscan.db import snapshot

    if job_id is not None and latest:
        raise UsageError("--job and --latest: choose one")
    if str(output) == "-":
        raise UsageError("--output -: the report is a file (it embeds its images)")
    screen = parse_where(where)
    name = parse_screen_name(screen_name)
    with database(db, create=False) as conn, snapshot(conn):
        screened = screening(conn, name, screen, None)
        wanted = job_id if job_id is not None else store.newest_job_id(conn)
        if wanted is None:
            raise UsageError(f"no jobs in {db_path(db)}")
        job = store.get_job(conn, wanted)
        if job is None:
            raise UsageError(f"no job {wanted} in {db_path(db)}")
        built = gather(conn, job, where=screened.condition)
    page = to_html(built)
    with output_file(output, force=force) as out:
        out.write(page)
    charts = sum(isinstance(chart, bytes) for chart in built.charts.values())
    missing = len(built.charts) - charts
    note = f", {missing} unavailable" if missing else ""
    render.note(
        f"Wrote the report of job {wanted} to {output}: {len(built.stocks)} stocks,"
        f" {charts} chart{'' if charts == 1 else 's'}{note}."
    )
