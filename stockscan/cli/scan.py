"""``stockscan scan``: analyse the whole watchlist as one job (what cron runs nightly), and
``stockscan cron``: the crontab line for it."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from stockscan.cli.common import PlanOptions, app, database, db_path, handle_errors, run_job
from stockscan.cli.options import (
    BandsOption,
    CapitalOption,
    DataDirOption,
    DbOption,
    FetchWorkersOption,
    JsonOption,
    KeepPartialOption,
    MaxPositionOption,
    MaxRpsOption,
    QuietOption,
    RiskOption,
    ShortableOption,
    SidesChoice,
    SidesOption,
    SourceChoice,
    SourceOption,
    parse_screen_name,
    screening,
)
from stockscan.errors import UsageError
from stockscan.position import DEFAULT_MAX_POSITION_PCT
from stockscan.request import DEFAULT_CAPITAL, DEFAULT_RISK_PCT

if TYPE_CHECKING:
    from stockscan.cli.options import Screening

LogFileOption = Annotated[
    Path | None,
    typer.Option(
        "--log-file",
        help="Also append every line, time-stamped, to this file (for cron).",
        dir_okay=False,
    ),
]
NSE_TZ = "Asia/Kolkata"
ADD_HINT = (
    "add tickers with `stockscan watchlist add TCS.NS INFY.NS` (or `stockscan watchlist import"
    " FILE`), then run `stockscan scan` again"
)


@app.command(
    epilog="Examples:\n\n  stockscan scan\n\n"
    "  stockscan scan --quiet --log-file ~/stockscan-scan.log\n\n"
    "  stockscan scan --source demo --json\n\n"
    "  stockscan scan --quiet --screen pullback"
)
@handle_errors
def scan(
    source: SourceOption = SourceChoice.yahoo,
    data_dir: DataDirOption = None,
    capital: CapitalOption = DEFAULT_CAPITAL,
    risk_pct: RiskOption = DEFAULT_RISK_PCT,
    sides: SidesOption = SidesChoice.long,
    shortable: ShortableOption = None,
    max_position_pct: MaxPositionOption = DEFAULT_MAX_POSITION_PCT,
    bands: BandsOption = None,
    keep_partial: KeepPartialOption = False,
    max_rps: MaxRpsOption = None,
    fetch_workers: FetchWorkersOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    log_file: LogFileOption = None,
    screen_name: Annotated[
        str | None,
        typer.Option(
            "--screen",
            metavar="NAME",
            help="After the job, print the watchlist's stocks that pass this saved screen.",
            show_default=False,
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Analyse every ticker of the watchlist as one job; unchanged ones are not redone."""
    from stockscan import render, store
    from stockscan.sources import Tuning
    from stockscan.tickers import bare_note, default_exchange, is_bare

    tuning = Tuning(max_rps, fetch_workers)  # a bad option exits 2 before anything is read

    path = db_path(db)
    if not path.exists():
        # Not "no database": to a new user the missing thing is the watchlist. Nothing is
        # created; `watchlist add` creates the database.
        raise UsageError(f"nothing to scan: no watchlist yet (no database at {path}); {ADD_HINT}")
    name = parse_screen_name(screen_name)
    if name is not None and json_output:
        raise UsageError(
            "--screen and --json: choose one (`stockscan results latest --screen NAME --json`"
            " gives the passing stocks as JSON)"
        )
    with database(db, create=False) as conn:
        tickers = store.watchlist_tickers(conn)
        # Checked now, so that a bad screen exits 2 before the job, not after it.
        screened = None if name is None else screening(conn, name, None, None)
    if not tickers:
        raise UsageError(f"nothing to scan: the watchlist is empty (in {path}); {ADD_HINT}")
    bare = [ticker for ticker in tickers if is_bare(ticker)]
    fix = (
        f"To follow the NSE listing instead: `stockscan watchlist remove {bare[0]}` and"
        f" `stockscan watchlist add {bare[0]} --exchange NSE`."
        if bare
        else None
    )
    if note := bare_note(tickers, default_exchange(None), fix=fix):
        render.note(note)
    run_job(
        tickers, source=source, data_dir=data_dir, capital=capital, risk_pct=risk_pct,
        keep_partial=keep_partial, tuning=tuning, json_output=json_output, quiet=quiet, db=db,
        skip_unchanged=True, log_file=log_file,
        plan=PlanOptions(sides.value, shortable, max_position_pct, bands),
        after=None if name is None else lambda: _passing(db, tickers, name, screened),
    )  # fmt: skip


def _passing(db: Path | None, tickers: list[str], name: str, screened: Screening | None) -> None:
    """scan --screen: the scanned stocks whose newest result passes the screen, so that the
    cron mail of a --quiet scan holds only them."""
    from stockscan import render, store

    assert screened is not None
    with database(db, create=False) as conn:
        rows = store.latest_results(conn, tickers, where=screened.condition, order=screened.order)
    if rows:
        render.results_table(rows, title=f"Passing screen {name}: {len(rows)} of {len(tickers)}")
    else:
        render.say(f"No stock of the {len(tickers)} scanned passes screen {name}.")


@app.command(epilog="Example:\n\n  stockscan cron >> my-crontab && crontab my-crontab")
@handle_errors
def cron(
    at: Annotated[str, typer.Option("--at", help="Time of day in India (IST), HH:MM.")] = "18:30",
    log_file: LogFileOption = None,
    db: DbOption = None,
) -> None:
    """Print a crontab line for a weekday scan after the NSE close, and explain it."""
    try:
        hour, minute = (int(part) for part in at.split(":"))
        ist = dt.time(hour, minute)
    except ValueError:
        raise UsageError(f"--at {at!r}: expected HH:MM, e.g. 18:30") from None
    database_path = db_path(db).resolve()
    log = (log_file or database_path.with_name("scan.log")).expanduser().resolve()
    # cron runs in the machine's time zone: turn IST into it, moving the weekdays if the
    # scan falls on another calendar day here.
    from zoneinfo import ZoneInfo

    from stockscan import clock

    nse = ZoneInfo(NSE_TZ)
    today = clock.now().astimezone(nse).date()
    local = dt.datetime.combine(today, ist, nse).astimezone()
    days = {-1: "0-4", 0: "1-5", 1: "2-6"}[(local.date() - today).days]
    command = [
        *_executable(),
        "scan",
        "--quiet",
        "--db",
        str(database_path),
        "--log-file",
        str(log),
    ]
    line = f"{local.minute} {local.hour} * * {days} {crontab_command(command)}"
    from stockscan import render

    typer.echo(render.cron_text(line, ist=ist, local=local, log=log))


def crontab_command(argv: list[str]) -> str:
    """``argv`` as a crontab command field: quoted for sh (a path with a space), and every
    ``%`` escaped, which cron would otherwise turn into a newline, ending the command."""
    import shlex

    return shlex.join(argv).replace("%", "\\%")


def _executable() -> list[str]:
    program = Path(sys.argv[0])
    if program.name == "stockscan":
        return [str(program.resolve())]
    return [sys.executable, "-m", "stockscan"]
