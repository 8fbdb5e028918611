"""``stockscan results changes``: what moved since each ticker's previous analysis."""

from __future__ import annotations

from stockscan.cli.common import database, handle_errors
from stockscan.cli.options import DbOption, JsonOption, date_option, parse_date
from stockscan.cli.results import results_app


@results_app.command(
    "changes",
    epilog="Examples:\n\n  stockscan results changes\n\n"
    "  stockscan results changes --since 2026-11-20 --json",
)
@handle_errors
def changes(
    since: str | None = date_option(
        "--since", "Latest analyses on or after DATE (default: the newest market date)."
    ),
    json_output: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Verdict moves, new STRONG_BUYs, stops hit and targets reached since the previous analysis."""
    from stockscan import changes as changes_mod
    from stockscan import render, store

    start = parse_date("--since", since)
    with database(db, create=False) as conn:
        start = start or store.newest_market_date(conn)
        pairs = store.result_pairs(conn, since=start) if start else []
    found = changes_mod.changes(pairs)
    if json_output:
        render.print_json(render.changes_document(start, len(pairs), found))
    else:
        render.changes_report(start, len(pairs), found)
