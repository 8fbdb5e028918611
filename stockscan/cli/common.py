"""The Typer application, the options every command shares, and the one place where core
errors become ``Error: …`` on stderr and an exit code."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from stockscan import __version__
from stockscan.errors import EXIT_DATABASE, EXIT_INTERRUPTED, StockscanError

EXIT_CODES_HELP = """\
Exit codes:\n
  0    every requested stock analysed\n
  1    the job finished, some stocks failed (each failure recorded)\n
  2    usage error or invalid input; nothing written\n
  3    an identical job is already running; nothing written\n
  4    no stock could be analysed\n
  5    database problem (cannot open, not a database, corrupt, read-only, full, locked)\n
  75   data source unavailable or rate-limited; the job is left resumable\n
  130  interrupted (Ctrl-C or SIGTERM); the job is left resumable
"""

app = typer.Typer(
    name="stockscan",
    help=(
        "Scan stocks for swing trades: indicators, a 0-100 score, a verdict and a trade plan. "
        "Every run is a tracked job in a local SQLite database.\n\n"
        "Examples:\n\n"
        "  stockscan analyze --source demo TCS.NS INFY.NS\n\n"
        "  stockscan jobs show 1\n\n"
        "  stockscan db check"
    ),
    epilog=EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class _State:
    debug = False


state = _State()

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        envvar="STOCKSCAN_DB",
        help="Database file (env STOCKSCAN_DB; default: in the user data directory, "
        "e.g. ~/.local/share/stockscan/stockscan.db).",
        show_envvar=False,
        dir_okay=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
PruneDryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Say what would be deleted; change nothing.")
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"stockscan {__version__}")
        raise typer.Exit()


@app.callback()
def main_callback(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")
    ] = False,
) -> None:
    """stockscan: a stock scanner for swing traders."""
    state.debug = debug


F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(fn: F) -> F:
    """The boundary where expected errors become one line on stderr and an exit code."""
    from stockscan import render

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from stockscan.jobs import sigterm_as_interrupt

        try:
            with sigterm_as_interrupt():
                return fn(*args, **kwargs)
        except StockscanError as exc:
            if state.debug:
                raise
            render.error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            if state.debug:
                raise
            render.error("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except sqlite3.Error as exc:  # one not raised inside translate_errors
            if state.debug:
                raise
            from stockscan.db import describe

            render.error(f"database: {describe(exc)}")
            raise typer.Exit(EXIT_DATABASE) from None

    return wrapper  # type: ignore[return-value]


def db_path(option: Path | None) -> Path:
    """The database file a command works on, named by the file, not the spelling: ``~``
    expanded, symlinks and ``..`` resolved. Every command resolves it here once, so SQLite's
    ``-wal`` and ``-shm``, the messages and the job locks all agree on one name whatever path
    reached the file."""
    from stockscan.db import canonical_path, default_db_path

    return canonical_path(option if option is not None else default_db_path())


@contextmanager
def database(option: Path | None, *, create: bool = True) -> Iterator[sqlite3.Connection]:
    """Open (and migrate) the database for one command; sqlite errors name the path."""
    from stockscan.db import open_db, translate_errors

    path = db_path(option)
    conn = open_db(path, create=create)
    try:
        with translate_errors(path):
            yield conn
    finally:
        conn.close()
