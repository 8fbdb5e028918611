"""``stockscan results changes``: what moved since each ticker's previous analysis."""

from __future__ import annotations

from typing import Annotated

import typer

from stockscan.cli.common import DbOption, JsonOption, database, handle_errors
from stockscan.cli.results import _date, results_app


@results_app.command(
    "changes",
    epilog="Examples:\n\n  stockscan results changes\n\n"
    "  stockscan results changes --since 2026-11-20 --json",
)
@handle_errors
def changes(
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE",
            help="Latest analyses on or after DATE (default: the newest market date).",
            show_default=False,
        ),
    ] = None,
    json_output: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Verdict moves, new STRONG_BUYs, stops hit and targets reached since the previous analysis."""
    from stockscan import changes as changes_mod
    from stockscan import render, store

    start = _date("--since", since)
    with database(db, create=False) as conn:
        start = start or store.newest_market_date(conn)
        pairs = store.result_pairs(conn, since=start) if start else []
    found = changes_mod.changes(pairs)
    if json_output:
        render.print_json({"since": start, "compared": len(pairs), "changes": found})
        return
    if not found:
        render.note(f"No changes among {len(pairs)} tickers analysed since {start or '-'}.")
        return
    render.changes_table(found)
    render.note(f"{len(found)} of {len(pairs)} tickers analysed since {start} changed.")
