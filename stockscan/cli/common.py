"""The Typer application, what every command shares (the database it works on, the job
runner of analyze, scan and jobs resume), and the one place where core errors become
``Error: …`` on stderr and an exit code. The shared options are in ``stockscan.cli.options``."""

from __future__ import annotations

import functools
import os
import re
import sqlite3
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from stockscan import __version__
from stockscan.errors import (
    EXIT_CODES,
    EXIT_DATABASE,
    EXIT_INTERRUPTED,
    StockscanError,
    UsageError,
)
from stockscan.position import DEFAULT_MAX_POSITION_PCT, DEFAULT_SIDES

if TYPE_CHECKING:
    from stockscan.cli.options import SourceChoice
    from stockscan.db import Connection
    from stockscan.jobs import JobOutcome
    from stockscan.render import JobReporter
    from stockscan.sources import Tuning


def exit_codes_help() -> str:
    """The ``Exit codes:`` epilog of ``stockscan --help``, from stockscan.errors.EXIT_CODES
    (each line a paragraph of its own: Click rewraps a paragraph)."""
    lines = [f"{entry.code:<4} {entry.meaning}" for entry in EXIT_CODES]
    lines += [
        "Closed pipe (| head): output stops quietly, the job runs on, same exit code.",
        "SIGUSR1 and SIGUSR2 are ignored.",
    ]
    return "Exit codes:\n\n" + "\n\n".join(f"  {line}" for line in lines) + "\n"


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
    epilog=exit_codes_help(),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


class _State:
    debug = False


state = _State()


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
        from stockscan import signals

        # --debug adds the traceback; the Error line and the exit code stay the same.
        try:
            with signals.interrupts_as_ctrl_c():
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
def database(option: Path | None, *, create: bool = True) -> Iterator[Connection]:
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


# --- the job runner: analyze, scan and jobs resume ------------------------------------------


def run_job(
    tickers: list[str],
    *,
    source: SourceChoice,
    data_dir: Path | None,
    capital: float,
    risk_pct: float,
    keep_partial: bool,
    tuning: Tuning,
    json_output: bool,
    quiet: bool,
    db: Path | None,
    skip_unchanged: bool = False,
    log_file: Path | None = None,
    plan: PlanOptions | None = None,
    after: Callable[[], None] | None = None,
) -> None:
    """What analyze and scan share: build the request, run the job, show it, exit.
    ``after``: what to print once the job is shown, before its exit (scan --screen)."""
    from stockscan import jobs
    from stockscan.sources import get_source

    request = jobs.JobRequest(
        tickers=tuple(tickers),
        source=source.value,
        capital=capital,
        risk_pct=risk_pct,
        data_dir=str(data_dir.resolve()) if data_dir else None,
        skip_unchanged=skip_unchanged,
        keep_partial=keep_partial,
        **(plan or PlanOptions()).request_fields(tickers),
    )
    # Built once, here: a usage error exits 2 before the database opens.
    price_source = get_source(request.source, data_dir, keep_partial=keep_partial, tuning=tuning)
    reporter = job_reporter(json_output, quiet, request.source, log_file)
    try:
        with database(db) as conn:
            from stockscan.sources.cache import PriceCache

            # The price cache lives in the job's database (stockscan.sources.cache).
            price_source.use_cache(PriceCache(conn))
            outcome = jobs.run(conn, request, reporter, source=price_source)
    finally:
        reporter.close()
    finish_job(outcome, json_output, reporter, after)


@dataclass(frozen=True)
class PlanOptions:
    """What analyze and scan take for the plan: sides, shortable stocks, cap, price bands."""

    sides: str = DEFAULT_SIDES
    shortable: Path | None = None
    max_position_pct: float = DEFAULT_MAX_POSITION_PCT
    bands: Path | None = None

    def request_fields(self, tickers: list[str]) -> dict[str, Any]:
        """The plan's fields of the job request, the files read and checked (exit 2 on a bad
        combination or file; a warning for each line left out). The request checks the cap."""
        from stockscan import render
        from stockscan.symbol_files import read_bands, read_shortable

        if self.shortable is not None and self.sides != "both":
            raise UsageError("--shortable needs --sides both (long-only jobs never short)")
        if self.sides == "both" and self.shortable is None:
            raise UsageError(
                "--sides both needs --shortable FILE: the stocks that can be shorted"
                " (for NSE, the F&O list)"
            )
        fields: dict[str, Any] = {"sides": self.sides, "max_position_pct": self.max_position_pct}
        warnings: list[str] = []
        if self.shortable is not None:
            fields["shortable"], found = read_shortable(self.shortable, tickers)
            warnings += found
        if self.bands is not None:
            fields["bands"], found = read_bands(self.bands, tickers)
            warnings += found
        for line in warnings:
            render.warning(line)
        return fields


def job_reporter(
    json_output: bool, quiet: bool, source: str, log_file: Path | None = None
) -> JobReporter:
    """How a job shows its progress: a live bar on a terminal, plain lines, quiet or JSON."""
    from stockscan.render import JobReporter

    if json_output:
        mode = "quiet" if quiet else "json"
    elif quiet:
        mode = "quiet"
    else:
        from stockscan import render

        # A progress bar needs a terminal that can move the cursor (not TERM=dumb).
        live = render.stdout.is_terminal and not render.stdout.is_dumb_terminal
        mode = "live" if live else "plain"
    return JobReporter(mode, source, log_file)


def finish_job(
    outcome: JobOutcome,
    json_output: bool,
    reporter: JobReporter,
    after: Callable[[], None] | None = None,
) -> None:
    """Show the finished job (its summary, or its JSON document) and exit with its code."""
    from stockscan import render

    # The job is done and recorded: output that fails from here on changes nothing of it
    # (stockscan.render.output; stockscan.cli.main reports it).
    reporter.job_context(outcome.job)
    if json_output:
        reporter.show(lambda: render.print_json(render.outcome_json(outcome)))
    else:
        reporter.summary(outcome.job, outcome.stocks)
    reporter.log_summary(outcome.job, outcome.stocks)
    if after is not None:
        after()
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)
