"""``stockscan watchlist``: the tickers a user follows, and what the latest scan said of each."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Annotated

import typer

from stockscan.cli.common import app, database, handle_errors
from stockscan.cli.options import (
    DbOption,
    ExchangeOption,
    JsonOption,
    ScreenOption,
    WhereOption,
    parse_screen_name,
    parse_where,
    screening,
)
from stockscan.errors import UsageError

watchlist_app = typer.Typer(
    help="Follow tickers; `stockscan scan` analyses them.", no_args_is_help=True
)
app.add_typer(watchlist_app, name="watchlist")

TickersArgument = Annotated[
    list[str], typer.Argument(help="Tickers, e.g. TCS.NS INFY.NS.", show_default=False)
]


@watchlist_app.command(
    "add", epilog="Examples:\n\n  stockscan watchlist add TCS.NS INFY.NS\n\n"
    "  stockscan watchlist add RELIANCE --exchange NSE --name 'Reliance Industries'",
)  # fmt: skip
@handle_errors
def add(
    tickers: TickersArgument,
    name: Annotated[
        str | None, typer.Option("--name", help="A name to show (with one ticker).")
    ] = None,
    exchange: ExchangeOption = None,
    db: DbOption = None,
) -> None:
    """Follow tickers. Adding one already followed is not an error and adds nothing."""
    from stockscan import render, store
    from stockscan.db import transaction
    from stockscan.tickers import bare_note, default_exchange, normalise_all

    suffix = default_exchange(exchange.value if exchange else None)
    symbols = normalise_all(tickers, suffix)
    if name is not None and len(symbols) != 1:
        raise UsageError("--name goes with exactly one ticker")
    if note := bare_note(symbols, suffix):
        render.note(note)
    with database(db) as conn, transaction(conn):
        added = store.add_to_watchlist(conn, [(t, name) for t in symbols])
    already = [t for t in symbols if t not in added]
    render.note(
        f"Added {len(added)}"
        + (f" ({', '.join(added)})" if 0 < len(added) <= 10 else "")
        + (f"; already followed: {', '.join(already)}" if already else "")
    )


@watchlist_app.command("remove", epilog="Example:\n\n  stockscan watchlist remove INFY.NS")
@handle_errors
def remove(tickers: TickersArgument, db: DbOption = None) -> None:
    """Stop following tickers (their results stay)."""
    from stockscan import render, store
    from stockscan.db import transaction
    from stockscan.tickers import default_exchange, normalise_all

    symbols = normalise_all(tickers, default_exchange(None))
    with database(db, create=False) as conn, transaction(conn):
        removed = store.remove_from_watchlist(conn, symbols)
    missing = [t for t in symbols if t not in removed]
    render.note(
        f"Removed {len(removed)}" + (f"; not followed: {', '.join(missing)}" if missing else "")
    )


@watchlist_app.command(
    "list",
    epilog="Examples:\n\n  stockscan watchlist list --json\n\n"
    '  stockscan watchlist list --where "verdict in (BUY, STRONG_BUY) and stop_pct < 5"',
)
@handle_errors
def list_(
    json_output: JsonOption = False,
    where: WhereOption = None,
    screen_name: ScreenOption = None,
    db: DbOption = None,
) -> None:
    """Show each followed ticker with its latest score, verdict and trade plan."""
    from stockscan import render, store
    from stockscan.db import snapshot

    screen = parse_where(where)
    name = parse_screen_name(screen_name)
    with database(db, create=False) as conn, snapshot(conn):
        screened = screening(conn, name, screen, None)
        rows = store.watchlist_rows(conn, where=screened.condition)
        newest = store.newest_market_date(conn)
    for row in rows:
        # Stale: its latest analysis is older than the newest market date in the database.
        row["stale"] = bool(row["analysis_date"] and newest and row["analysis_date"] < newest)
    if json_output:
        render.print_json(render.watchlist_document(newest, rows))
    elif rows:
        render.watchlist_table(rows)
    elif screened.text is not None:
        render.note(f"No followed ticker's latest result matches {screened.text}.")
    else:
        render.note("The watchlist is empty: add tickers with `stockscan watchlist add TCS.NS`.")


@watchlist_app.command(
    "import",
    epilog="Examples:\n\n  stockscan watchlist import my-stocks.txt\n\n"
    "  stockscan watchlist import EQUITY_L.csv --exchange NSE",
)
@handle_errors
def import_(
    file: Annotated[
        Path,
        typer.Argument(
            help="One ticker per line, or a CSV with a SYMBOL (or ticker) column.",
            dir_okay=False,
        ),
    ],
    exchange: ExchangeOption = None,
    db: DbOption = None,
) -> None:
    """Follow every ticker in a file: a list, or a CSV such as NSE's EQUITY_L.csv."""
    from stockscan import render, store
    from stockscan.db import transaction
    from stockscan.tickers import bare_note, default_exchange, normalise

    entries = read_ticker_file(file)
    suffix = default_exchange(exchange.value if exchange else None)
    parsed: dict[str, str | None] = {}
    bad = []
    for line, raw, name in entries:
        try:
            parsed.setdefault(normalise(raw, suffix), name)
        except UsageError as exc:
            bad.append(f"{file}:{line}: {exc}")
    if bad:
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        raise UsageError("; ".join(bad[:3]) + more)
    if not parsed:
        raise UsageError(f"{file}: no tickers in it")
    if note := bare_note(parsed, suffix):
        render.note(note)
    with database(db) as conn, transaction(conn):
        added = store.add_to_watchlist(conn, list(parsed.items()))
    render.note(f"Imported {file}: {len(added)} added, {len(parsed) - len(added)} already followed")


def read_ticker_file(path: Path) -> list[tuple[int, str, str | None]]:
    """(line number, ticker, name) of each entry of a list or CSV file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not a text file (expected UTF-8)") from None
    lines = text.splitlines()
    first = lines[0] if lines else ""
    if "," not in first:
        return [
            (number, line.strip(), None)
            for number, line in enumerate(lines, start=1)
            if line.strip() and not line.lstrip().startswith("#")
        ]
    rows = list(csv.reader(lines))
    header = [h.strip().lower() for h in rows[0]]
    column = next((header.index(c) for c in ("symbol", "ticker") if c in header), None)
    if column is None:
        raise UsageError(f"{path}:1: a CSV needs a SYMBOL or TICKER column (has {first})")
    name_column = next(
        (header.index(c) for c in ("name of company", "name", "company") if c in header), None
    )
    entries = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if column >= len(row):
            raise UsageError(f"{path}:{number}: no value in the {header[column]} column")
        name = (
            row[name_column].strip() if name_column is not None and name_column < len(row) else None
        )
        entries.append((number, row[column], name or None))
    return entries
