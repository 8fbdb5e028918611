"""``stockscan results``: the newest result per ticker, a ticker's history, one result in full,
exports, and a result's chart. Read-only; none of these imports pandas, and only ``chart``
imports numpy (and plotext, when it draws), so the others start fast."""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from stockscan import vocab
from stockscan.cli.common import app, database, db_path, handle_errors
from stockscan.cli.options import (
    DbOption,
    JsonOption,
    LimitOption,
    ScreenOption,
    SortOption,
    SourceChoice,
    WhereOption,
    date_option,
    parse_date,
    parse_screen_name,
    parse_sort,
    parse_where,
    screening,
)
from stockscan.cli.output import output_file
from stockscan.errors import UsageError

if TYPE_CHECKING:
    from stockscan.store import ResultDetail

results_app = typer.Typer(
    help="Query results: the newest per ticker, a ticker's history, one in full, its chart,"
    " exports.",
    no_args_is_help=True,
)
app.add_typer(results_app, name="results")

# One result of one ticker: `results show` and `results chart`.
TickerArgument = Annotated[
    str, typer.Argument(metavar="TICKER", help="The ticker, e.g. TCS.NS.", show_default=False)
]
RESULT_DATE_HELP = "The newest result on or before this market date (default: the newest)."

# From stockscan.vocab, not stockscan.analysis: importing that package would load numpy, and read
# commands must start fast.
VERDICTS = vocab.VERDICTS
SOURCES = tuple(choice.value for choice in SourceChoice)
FORMATS = ("csv", "json", "ndjson")

TickersArgument = Annotated[
    list[str] | None,
    typer.Argument(
        metavar="TICKER",
        help="Only these tickers (default: every ticker).",
        show_default=False,
    ),
]
VerdictOption = Annotated[
    list[str] | None,
    typer.Option(
        "--verdict",
        metavar="VERDICT",
        help=f"Only these verdicts ({', '.join(VERDICTS)}); repeat or separate with commas.",
        show_default=False,
    ),
]
MinScoreOption = Annotated[
    float | None,
    typer.Option(
        "--min-score",
        metavar="SCORE",
        help="Only scores of at least this (0-100).",
        show_default=False,
    ),
]
SourceFilter = Annotated[
    str | None,
    typer.Option(
        "--source",
        metavar="SOURCE",
        help=f"Only results from ({', '.join(SOURCES)}).",
        show_default=False,
    ),
]
# --- parsing: everything the user typed is checked before the database is opened ----------


def _verdicts(raw: list[str] | None) -> list[str]:
    wanted: list[str] = []
    for item in raw or []:
        for part in item.split(","):
            verdict = part.strip().upper().replace("-", "_").replace(" ", "_")
            if verdict not in VERDICTS:
                raise UsageError(f"--verdict {part!r}: expected one of {', '.join(VERDICTS)}")
            if verdict not in wanted:
                wanted.append(verdict)
    return wanted


def _min_score(raw: float | None) -> float | None:
    if raw is not None and not 0 <= raw <= 100:
        raise UsageError(f"--min-score {raw:g}: expected a score from 0 to 100")
    return raw


def _source(raw: str | None) -> str | None:
    if raw is None:
        return None
    source = raw.strip().lower()
    if source not in SOURCES:
        raise UsageError(f"--source {raw!r}: expected one of {', '.join(SOURCES)}")
    return source


def _tickers(raw: list[str] | None) -> list[str] | None:
    from stockscan.tickers import default_exchange, normalise_all

    return normalise_all(raw, default_exchange(None)) if raw else None


def _ticker(raw: str) -> str:
    from stockscan.tickers import default_exchange, normalise

    return normalise(raw, default_exchange(None))


def _elsewhere(
    conn: sqlite3.Connection, symbol: str, command: str, *, as_of: str | None = None
) -> str:
    """For a bare symbol with no results: the suffixed tickers that have some (SBIN.NS for
    SBIN), and the command that shows them; "" when there are none."""
    from stockscan import store
    from stockscan.tickers import EXCHANGE_SUFFIXES, is_bare

    if not is_bare(symbol):
        return ""
    candidates = [symbol + suffix for suffix in EXCHANGE_SUFFIXES.values()]
    without = set(store.tickers_without_results(conn, candidates, as_of=as_of))
    found = [ticker for ticker in candidates if ticker not in without]
    if not found:
        return ""
    verb = "has" if len(found) == 1 else "have"
    return f"; {' and '.join(found)} {verb} results: stockscan results {command} {found[0]}"


# --- commands ------------------------------------------------------------------------------


@results_app.command(
    "latest",
    epilog="Examples:\n\n"
    "  stockscan results latest --verdict BUY,STRONG_BUY --min-score 60\n\n"
    '  stockscan results latest --where "close > sma_200 and rsi_14 < 40"\n\n'
    "  stockscan results latest TCS.NS INFY.NS --json\n\n"
    "  stockscan results latest --date 2026-11-20 --csv > friday.csv",
)
@handle_errors
def latest(
    tickers: TickersArgument = None,
    verdict: VerdictOption = None,
    min_score: MinScoreOption = None,
    source: SourceFilter = None,
    where: WhereOption = None,
    screen_name: ScreenOption = None,
    sort: SortOption = None,
    limit: LimitOption = None,
    columns: Annotated[
        str | None,
        typer.Option(
            "--columns",
            metavar="NAME[,NAME...]",
            help="The table's columns (not --json or --csv), e.g. ticker,score,rsi_14,entry;"
            " any field of --where, date, source.",
            show_default=False,
        ),
    ] = None,
    date: str | None = date_option(
        "--date", "As of this market date: each ticker's newest result on or before it."
    ),
    json_output: JsonOption = False,
    csv_output: Annotated[
        bool, typer.Option("--csv", help="Print CSV instead of a table.")
    ] = False,
    db: DbOption = None,
) -> None:
    """Show the newest result of every ticker (or of those given), best score first."""
    from stockscan import render, store
    from stockscan.db import snapshot

    if json_output and csv_output:
        raise UsageError("--json and --csv: choose one")
    wanted = _tickers(tickers)
    as_of = parse_date("--date", date)
    verdicts = _verdicts(verdict)
    score = _min_score(min_score)
    only_source = _source(source)
    screen = parse_where(where)
    name = parse_screen_name(screen_name)
    order = parse_sort(sort)
    shown = render.latest_columns(columns)
    # One read transaction: the rows and the missing tickers come from the same state.
    with database(db, create=False) as conn, snapshot(conn):
        screened = screening(conn, name, screen, order)
        rows = store.latest_results(
            conn,
            wanted,
            as_of=as_of,
            verdicts=verdicts,
            min_score=score,
            source=only_source,
            where=screened.condition,
            order=screened.order,
            limit=limit,
        )
        missing = store.tickers_without_results(conn, wanted, as_of=as_of) if wanted else []
        hints = {t: _elsewhere(conn, t, "latest", as_of=as_of) for t in missing}
    if json_output:
        render.print_json(render.latest_document(as_of, rows, missing))
        return
    if csv_output:
        render.write_records(rows, "csv", sys.stdout)
        sys.stdout.flush()
    elif rows:
        title = f"Newest result per ticker{f' on or before {as_of}' if as_of else ''}"
        render.results_table(rows, title=title, columns=shown)
    elif not wanted or len(missing) < len(wanted):  # else the line below says it all
        render.note(
            render.no_results(
                date=as_of,
                verdicts=verdicts,
                score=score,
                source=only_source,
                where=screened.text,
            )
        )
    render.missing_notes(missing, hints)


@results_app.command(
    "history",
    epilog="Examples:\n\n  stockscan results history TCS.NS\n\n"
    "  stockscan results history INFY.NS --limit 100 --json",
)
@handle_errors
def history(
    ticker: Annotated[
        str, typer.Argument(metavar="TICKER", help="The ticker, e.g. TCS.NS.", show_default=False)
    ],
    limit: Annotated[
        int, typer.Option("--limit", min=1, metavar="N", help="How many analyses, newest first.")
    ] = 30,
    json_output: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Show a ticker's analyses over time, newest first, with score and verdict moves."""
    from stockscan import render, store

    symbol = _ticker(ticker)
    with database(db, create=False) as conn:
        rows = store.result_history(conn, symbol, limit=limit)
        if not rows:
            hint = _elsewhere(conn, symbol, "history")
            raise UsageError(f"no results for {symbol} in {db_path(db)}{hint}")
    if json_output:
        render.print_json(render.history_document(symbol, rows))
    else:
        render.history_table(symbol, rows)


@results_app.command(
    "show",
    epilog="Examples:\n\n  stockscan results show TCS.NS\n\n"
    "  stockscan results show INFY.NS --date 2026-11-20 --json",
)
@handle_errors
def show(
    ticker: TickerArgument,
    date: str | None = date_option("--date", RESULT_DATE_HELP),
    json_output: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Show one result in full: trade plan, indicators, score components and provenance."""
    from stockscan import render

    symbol = _ticker(ticker)
    as_of = parse_date("--date", date)
    with database(db, create=False) as conn:
        row = _result_row(conn, symbol, as_of, db, "show")
    document = render.result_document(row)
    if json_output:
        render.print_json(document)
    else:
        render.result_detail(document)


@results_app.command(
    "export",
    epilog="Examples:\n\n"
    "  stockscan results export --format csv --output results.csv\n\n"
    "  stockscan results export --format ndjson --since 2026-01-01 --source yahoo | gzip > r.gz\n\n"
    "  stockscan results export --format json TCS.NS INFY.NS -o two.json --force",
)
@handle_errors
def export(
    output_format: Annotated[
        str,
        typer.Option(
            "--format", metavar="FORMAT", help=f"One of {', '.join(FORMATS)}.", show_default=False
        ),
    ],
    tickers: TickersArgument = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Write to this file (default: stdout).",
            dir_okay=False,
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite --output if it exists.")
    ] = False,
    since: str | None = date_option("--since", "Only market dates on or after this."),
    until: str | None = date_option("--until", "Only market dates on or before this."),
    verdict: VerdictOption = None,
    min_score: MinScoreOption = None,
    source: SourceFilter = None,
    where: WhereOption = None,
    screen_name: ScreenOption = None,
    db: DbOption = None,
) -> None:
    """Export every result matching the filters, streamed row by row, by ticker and date."""
    from stockscan import render, store

    fmt = output_format.strip().lower()
    if fmt not in FORMATS:
        raise UsageError(f"--format {output_format!r}: expected one of {', '.join(FORMATS)}")
    wanted = _tickers(tickers)
    start, end = parse_date("--since", since), parse_date("--until", until)
    verdicts, score, only_source = _verdicts(verdict), _min_score(min_score), _source(source)
    screen = parse_where(where)
    name = parse_screen_name(screen_name)
    to_stdout = output is None or str(output) == "-"
    with database(db, create=False) as conn:
        screened = screening(conn, name, screen, None)
        empty = render.no_results(
            wanted,
            since=start,
            until=end,
            verdicts=verdicts,
            score=score,
            source=only_source,
            where=screened.text,
        )
        rows = store.iter_results(
            conn,
            wanted,
            since=start,
            until=end,
            verdicts=verdicts,
            min_score=score,
            source=only_source,
            where=screened.condition,
        )
        if to_stdout:
            count = render.write_records(rows, fmt, sys.stdout)
            sys.stdout.flush()
            if count == 0:
                render.note(empty)
            return
        assert output is not None
        with output_file(output, force=force) as out:
            count = render.write_records(rows, fmt, out)
    if count == 0:
        render.note(empty)
    render.note(f"Exported {count} result{'' if count == 1 else 's'} to {output}.")


@results_app.command(
    "chart",
    epilog="Examples:\n\n  stockscan results chart TCS.NS\n\n"
    "  stockscan results chart INFY.NS --date 2026-11-20 --bars 120\n\n"
    "  stockscan results chart TCS.NS --width 100 > tcs.txt",
)
@handle_errors
def chart(
    ticker: TickerArgument,
    date: str | None = date_option("--date", RESULT_DATE_HELP),
    bars: Annotated[
        int,
        typer.Option("--bars", min=10, max=250, metavar="N", help="How many daily bars to show."),
    ] = 90,
    width: Annotated[
        int | None,
        typer.Option(
            "--width",
            min=1,
            metavar="COLUMNS",
            help="Draw this wide, as plain text with no colours, even when stdout is not a "
            "terminal (default: the terminal's width, in colour).",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Draw a result's candlesticks with SMA-20/50 and its entry, stop and target."""
    import shutil

    from stockscan.charts import terminal
    from stockscan.charts.bars import chart_data, data_dir_of

    symbol = _ticker(ticker)
    as_of = parse_date("--date", date)
    if width is None:
        if not sys.stdout.isatty():
            raise UsageError(
                "stdout is not a terminal: add --width COLUMNS to draw the chart as plain text,"
                " or use `stockscan report` for an HTML chart"
            )
        from stockscan import render

        size = shutil.get_terminal_size()
        # Colour unless the terminal cannot show it (TERM=dumb) or the user said NO_COLOR.
        console = render.stdout
        colour = console.color_system is not None and not console.no_color
        columns, lines = size.columns, size.lines - 2
    else:
        columns, lines, colour = width, max(terminal.MIN_HEIGHT, width // 3), False
    terminal.check_width(columns)
    with database(db, create=False) as conn:
        row = _result_row(conn, symbol, as_of, db, "chart")
        data = chart_data(conn, row, count=bars, data_dir=data_dir_of(row["job_params"]))
    text = terminal.render(data, width=columns, height=lines, colour=colour)
    sys.stdout.write(text)
    sys.stdout.flush()


def _result_row(
    conn: sqlite3.Connection, symbol: str, as_of: str | None, db: Path | None, command: str
) -> ResultDetail:
    from stockscan import store

    row = store.find_result(conn, symbol, as_of=as_of)
    if row is None:
        when = f" on or before {as_of}" if as_of else ""
        hint = _elsewhere(conn, symbol, command, as_of=as_of)
        raise UsageError(f"no results for {symbol}{when} in {db_path(db)}{hint}")
    return row
