"""The Typer application, the options every command shares, and the one place where core
errors become ``Error: …`` on stderr and an exit code."""

from __future__ import annotations

import functools
import os
import re
import sqlite3
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
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
  74   output could not be written (stdout or --log-file: disk full, I/O error); work done\n
  75   data source unavailable or rate-limited; the job is left resumable\n
  130  interrupted (Ctrl-C, SIGTERM or SIGHUP); the job is left resumable\n
  Closed pipe (| head): output stops quietly, the job runs on, same exit code.\n
  SIGUSR1 and SIGUSR2 are ignored.
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
        # No dir_okay=False: a directory is a database problem (exit 5, stockscan.db.open_db),
        # not a usage error.
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
        bool,
        typer.Option(
            "--debug",
            help="Also print tracebacks (anywhere on the line, or env STOCKSCAN_DEBUG=1); "
            "exit codes stay the same.",
        ),
    ] = False,
) -> None:
    """stockscan: a stock scanner for swing traders."""
    state.debug = debug or debug_from_env()


def debug_from_env() -> bool:
    return os.environ.get("STOCKSCAN_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


F = TypeVar("F", bound=Callable[..., Any])


def handle_errors(fn: F) -> F:
    """The boundary where expected errors become one line on stderr and an exit code."""
    from stockscan import render

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from stockscan.jobs import sigterm_as_interrupt

        # --debug adds the traceback; the Error line and the exit code stay the same.
        try:
            with sigterm_as_interrupt():
                return fn(*args, **kwargs)
        except StockscanError as exc:
            _traceback()
            render.error(str(exc))
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            _traceback()
            render.error("interrupted")
            raise typer.Exit(EXIT_INTERRUPTED) from None
        except sqlite3.Error as exc:  # one not raised inside translate_errors
            _traceback()
            from stockscan.db import describe

            render.error(f"database: {describe(exc)}")
            raise typer.Exit(EXIT_DATABASE) from None

    return wrapper  # type: ignore[return-value]


def _traceback() -> None:
    if state.debug:
        traceback.print_exc(file=sys.stderr)
        sys.stderr.flush()


def usage_error_message(exc: typer.TyperException, command_path: str = "stockscan") -> str:
    """A command line Typer refused, in the program's one error style: the option (or
    argument), the bad value, what is allowed; then where help is. Typer's own wording comes
    from pydantic ("Value error, 'x' is not one of …"); the value and the rule are in the
    validation error it chains. ``command_path`` is the command's, for errors that come from
    the parser without a context."""
    ctx = getattr(exc, "ctx", None)
    see = f" (see `{ctx.command_path if ctx is not None else command_path} --help`)"
    param = getattr(exc, "param", None)
    if param is not None:
        name = param.opts[0] if param.param_type_name == "option" else param.name.upper()
        if type(exc).__name__ == "MissingParameter":
            return f"missing {param.param_type_name} {name}{see}"
        cause = exc.__cause__
        errors = cause.errors() if cause is not None and hasattr(cause, "errors") else []
        if errors:
            return f"{name} {str(errors[0].get('input'))!r}: {_allowed(param, errors[0])}"
        return f"{name}: {_lower_first(exc.message)}"
    message = exc.format_message()
    if type(exc).__name__ == "NoSuchOption":
        # Typer's "(Possible options: …)" lists every option that shares a letter: noise.
        message = exc.message
    return f"{_lower_first(message.rstrip('.'))}{see}"


def _allowed(param: Any, error: dict[str, Any]) -> str:
    """What the option accepts, from pydantic's error type."""
    kind, limits = error.get("type"), error.get("ctx") or {}
    if kind == "value_error" and "is not one of" in str(limits.get("error", "")):
        annotation = getattr(getattr(param, "type_descriptor", None), "annotation", None)
        if isinstance(annotation, type) and issubclass(annotation, Enum):
            choices = [str(member.value) for member in annotation]
        else:
            choices = re.findall(r"'([^']*)'", str(limits["error"]).split("is not one of")[1])
        return f"expected one of {', '.join(choices)}"
    simple = {
        "int_parsing": "expected a whole number",
        "int_from_float": "expected a whole number",
        "float_parsing": "expected a number",
        "bool_parsing": "expected true or false",
    }
    if kind in simple:
        return simple[kind]
    bounds = {"greater_than_equal": ("at least", "ge"), "less_than_equal": ("at most", "le"),
              "greater_than": ("more than", "gt"), "less_than": ("less than", "lt")}  # fmt: skip
    if kind in bounds:
        words, key = bounds[kind]
        return f"expected {words} {limits.get(key)}"
    return _lower_first(str(error.get("msg", "invalid value")))


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


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
    from stockscan import store
    from stockscan.db import translate_errors

    path = db_path(option)
    conn = store.open(path, create=create)
    try:
        with translate_errors(path):
            yield conn
    finally:
        conn.close()
