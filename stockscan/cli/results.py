"""``stockscan results``: the newest result per ticker, a ticker's history, one result in full,
exports, and a result's chart. Read-only; none of these imports pandas, and only ``chart``
imports numpy (and plotext, when it draws), so the others start fast."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from stockscan.cli.analyze import SourceChoice
from stockscan.cli.common import DbOption, JsonOption, app, database, db_path, handle_errors
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
ResultDateOption = Annotated[
    str | None,
    typer.Option(
        "--date",
        metavar="DATE",
        help="The newest result on or before this market date (default: the newest).",
        show_default=False,
    ),
]

# The same as stockscan.analysis.VERDICTS (a test checks): importing that package would load
# numpy, and read commands must start fast.
VERDICTS = ("STRONG_BUY", "BUY", "HOLD", "SELL", "STRONG_SELL")
SOURCES = tuple(choice.value for choice in SourceChoice)
FORMATS = ("csv", "json", "ndjson")
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

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


def _date(option: str, raw: str | None) -> str | None:
    if raw is None:
        return None
    text = raw.strip()
    try:
        if DATE.fullmatch(text) is None:
            raise ValueError
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise UsageError(f"{option} {raw!r}: expected a date like 2026-11-27") from None


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


def _no_results(
    tickers: list[str] | None = None,
    *,
    date: str | None = None,
    since: str | None = None,
    until: str | None = None,
    verdicts: list[str] | None = None,
    score: float | None = None,
    source: str | None = None,
) -> str:
    """What an empty listing says: the filters that emptied it, as options to retype."""
    filters = [
        *([f"--date {date}"] if date else []),
        *([f"--since {since}"] if since else []),
        *([f"--until {until}"] if until else []),
        *([f"--verdict {','.join(verdicts)}"] if verdicts else []),
        *([f"--min-score {score:g}"] if score is not None else []),
        *([f"--source {source}"] if source else []),
    ]
    among = f" for {', '.join(tickers)}" if tickers else ""
    if not filters:
        return (
            f"No results{among} yet: `stockscan analyze TICKER...` or `stockscan scan` adds them."
        )
    return f"No results{among} match {' '.join(filters)}."


# --- commands ------------------------------------------------------------------------------


@results_app.command(
    "latest",
    epilog="Examples:\n\n"
    "  stockscan results latest --verdict BUY,STRONG_BUY --min-score 60\n\n"
    "  stockscan results latest TCS.NS INFY.NS --json\n\n"
    "  stockscan results latest --date 2026-11-20 --csv > friday.csv",
)
@handle_errors
def latest(
    tickers: TickersArgument = None,
    verdict: VerdictOption = None,
    min_score: MinScoreOption = None,
    source: SourceFilter = None,
    date: Annotated[
        str | None,
        typer.Option(
            "--date",
            metavar="DATE",
            help="As of this market date: each ticker's newest result on or before it.",
            show_default=False,
        ),
    ] = None,
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
    as_of = _date("--date", date)
    verdicts = _verdicts(verdict)
    score = _min_score(min_score)
    only_source = _source(source)
    # One read transaction: the rows and the missing tickers come from the same state.
    with database(db, create=False) as conn, snapshot(conn):
        rows = store.latest_results(
            conn, wanted, as_of=as_of, verdicts=verdicts, min_score=score, source=only_source
        )
        missing = store.tickers_without_results(conn, wanted, as_of=as_of) if wanted else []
        hints = {t: _elsewhere(conn, t, "latest", as_of=as_of) for t in missing}
    if json_output:
        render.print_json({"as_of": as_of, "results": rows, "missing": missing})
        return
    if csv_output:
        with _stdout_pipe():
            render.write_records(rows, "csv", sys.stdout)
    elif rows:
        title = f"Newest result per ticker{f' on or before {as_of}' if as_of else ''}"
        render.results_table(rows, title=title)
    elif not wanted or len(missing) < len(wanted):  # else the line below says it all
        render.note(_no_results(date=as_of, verdicts=verdicts, score=score, source=only_source))
    plain = [ticker for ticker in missing if not hints[ticker]]
    if plain:
        render.note(f"No results for {', '.join(plain)}.")
    for ticker in missing:
        if hints[ticker]:
            render.note(f"No results for {ticker}{hints[ticker]}")


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
        render.print_json({"ticker": symbol, "history": rows})
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
    date: ResultDateOption = None,
    json_output: JsonOption = False,
    db: DbOption = None,
) -> None:
    """Show one result in full: trade plan, indicators, score components and provenance."""
    from stockscan import render

    symbol = _ticker(ticker)
    as_of = _date("--date", date)
    with database(db, create=False) as conn:
        row = _result_row(conn, symbol, as_of, db, "show")
    # render.result_document still parses job_params itself: hand it them as stored until it
    # takes them decoded (issue 16, render/ split), then pass ``row`` as it is.
    document = render.result_document(
        {**row, "job_params": None if row["job_params"] is None else json.dumps(row["job_params"])}
    )
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
    since: Annotated[
        str | None,
        typer.Option(
            "--since",
            metavar="DATE",
            help="Only market dates on or after this.",
            show_default=False,
        ),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option(
            "--until",
            metavar="DATE",
            help="Only market dates on or before this.",
            show_default=False,
        ),
    ] = None,
    verdict: VerdictOption = None,
    min_score: MinScoreOption = None,
    source: SourceFilter = None,
    db: DbOption = None,
) -> None:
    """Export every result matching the filters, streamed row by row, by ticker and date."""
    from stockscan import render, store

    fmt = output_format.strip().lower()
    if fmt not in FORMATS:
        raise UsageError(f"--format {output_format!r}: expected one of {', '.join(FORMATS)}")
    wanted = _tickers(tickers)
    start, end = _date("--since", since), _date("--until", until)
    verdicts, score, only_source = _verdicts(verdict), _min_score(min_score), _source(source)
    to_stdout = output is None or str(output) == "-"
    with database(db, create=False) as conn:
        rows = store.iter_results(
            conn,
            wanted,
            since=start,
            until=end,
            verdicts=verdicts,
            min_score=score,
            source=only_source,
        )
        if to_stdout:
            with _stdout_pipe():
                count = render.write_records(rows, fmt, sys.stdout)
            if count == 0:
                render.note(
                    _no_results(wanted, since=start, until=end, verdicts=verdicts,
                                score=score, source=only_source)
                )  # fmt: skip
            return
        assert output is not None
        with _output_file(output, force=force) as out:
            count = render.write_records(rows, fmt, out)
    if count == 0:
        render.note(
            _no_results(
                wanted, since=start, until=end, verdicts=verdicts, score=score, source=only_source
            )
        )
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
    date: ResultDateOption = None,
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
    as_of = _date("--date", date)
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
    with _stdout_pipe():
        sys.stdout.write(text)


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


# --- output --------------------------------------------------------------------------------


@contextmanager
def _stdout_pipe() -> Iterator[None]:
    """A reader that stops early (``| head``) is not an error: stop writing, quietly."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(0) from None


def _temporary_name(path: Path, pid: int) -> Path:
    return path.with_name(f".{path.name}.{pid}.tmp")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _remove_stale_temporaries(path: Path) -> None:
    """Named temporary files of earlier writes of ``path`` whose process is gone (killed
    before it could clean up): ``.NAME.<pid>.tmp`` with a pid that is not running. One whose
    process is alive may be a concurrent write, and is left alone."""
    import glob

    pattern = glob.escape(f".{path.name}.") + "*.tmp"
    for found in path.parent.glob(pattern):
        pid = found.name[len(path.name) + 2 : -len(".tmp")]
        if pid.isdigit() and found == _temporary_name(path, int(pid)) and not _pid_alive(int(pid)):
            found.unlink(missing_ok=True)


def _unnamed_file(directory: Path) -> int | None:
    """A file with no name in ``directory`` (Linux ``O_TMPFILE``): if the process dies before
    it is linked into place, the kernel frees it and nothing is left behind. None where the
    system or the file system cannot make one."""
    flag = getattr(os, "O_TMPFILE", None)
    if flag is None or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        return os.open(directory, flag | os.O_WRONLY, 0o666)
    except OSError as exc:
        import errno

        if exc.errno in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL):
            return None
        raise


def _link_unnamed(fd: int, path: Path) -> None:
    """Give the unnamed file ``fd`` the name ``path``: linkat(2) of /proc/self/fd/N with
    AT_SYMLINK_FOLLOW (os.link makes that call only when given a directory fd). Raises
    FileExistsError when ``path`` exists."""
    proc = os.open("/proc/self/fd", os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.link(str(fd), path, src_dir_fd=proc, follow_symlinks=True)
    finally:
        os.close(proc)


@contextmanager
def _output_file(path: Path, *, force: bool) -> Iterator[TextIO]:
    """Write ``path`` whole or not at all, and never replace a file without --force.

    The content goes to a file with no name in the destination's directory (``O_TMPFILE``),
    linked into place only when complete: a write killed half-way (even by SIGKILL) leaves
    nothing. Where that is not available, a named ``.NAME.<pid>.tmp`` is used, and the ones
    killed writes left are removed by the next write of the same file. A ``path`` that is a
    symlink is followed: the file it points to is written (its directory holds the temporary
    file, so the final rename stays atomic) and the link stays a link.
    """
    path = path.expanduser()
    given = path
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    if path.is_dir():
        raise UsageError(f"--output {given}: is a directory")
    if path.exists() and not force:
        raise UsageError(f"--output {given}: file exists (add --force to overwrite it)")
    if not path.parent.exists():
        raise UsageError(f"--output {given}: directory {path.parent} does not exist")
    temporary = _temporary_name(path, os.getpid())
    try:
        _remove_stale_temporaries(path)
        fd = _unnamed_file(path.parent)
        if fd is not None:
            with open(fd, "w", encoding="utf-8", newline="") as out:
                yield out
                out.flush()
                if force:
                    # link() cannot replace: name it (complete by now), then rename over.
                    _link_unnamed(fd, temporary)
                    os.replace(temporary, path)
                else:
                    _link_unnamed(fd, path)
            return
        with open(temporary, "w", encoding="utf-8", newline="") as out:
            yield out
        if force:
            os.replace(temporary, path)
        else:
            # link() refuses an existing target: a file created meanwhile is not clobbered.
            os.link(temporary, path)
    except FileExistsError:
        raise UsageError(f"--output {given}: file exists (add --force to overwrite it)") from None
    except OSError as exc:
        raise UsageError(f"--output {given}: cannot write: {exc.strerror or exc}") from exc
    finally:
        temporary.unlink(missing_ok=True)
