"""Everything the user sees. Two consoles: stdout for data, stderr for diagnostics.

On a terminal the job shows a Rich progress bar and one line per stock as it finishes; when
stdout is not a terminal (cron, pipes) the same lines are written plain: no ANSI codes, no
spinners. ``--json`` writes one JSON document to stdout and nothing else there.

Output that fails is not the command failing (``guard_streams``): a reader that goes away
(``| head``, ``| grep -q``) stops the output quietly; a full disk or an I/O error under stdout
or the log file is one ``Error:`` line at the end and exit 74. A job goes on to its end either
way: its record is in the database, not on the screen. Characters the output's encoding
cannot show are escaped, and control characters in text that comes from data (``safe``) are
printed escaped, so no name or message can move the cursor or retitle the terminal.
"""

from __future__ import annotations

import errno
import json
import os
import re
import sys
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO, cast

from stockscan.errors import UsageError
from stockscan.jobs import StockOutcome

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress
    from rich.text import Text

    from stockscan.retention import DbPrune, JobPrune


class _LazyConsole:
    """A Rich console made on first use: a command that prints plain JSON never imports Rich
    (start-up time is a feature of the read commands)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def real(self) -> Console:
        """The Console itself, for Rich objects that take one (``Progress(console=…)``): they
        use it as a context manager and call its dunders, which ``__getattr__`` cannot
        forward (Python looks those up on the type)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)


_stdout = _LazyConsole(highlight=False, soft_wrap=True, emoji=False)
_stderr = _LazyConsole(stderr=True, highlight=False, soft_wrap=True, emoji=False)
# For printing (their attributes are the Console's); never hand these to Rich: use .real().
stdout = cast("Console", _stdout)
stderr = cast("Console", _stderr)

SOURCE_NOTES = {
    "demo": "demo: synthetic prices, not market data",
    "yahoo": "Yahoo Finance",
    "csv": "CSV files",
    "legacy": "the old system (imported by `db import-legacy`)",
    "unknown": "imported from the old system, which did not record its source",
}


# --- text from data ---------------------------------------------------------------------------

# C0 and C1 control characters and DEL, and the Unicode controls that reorder what follows
# them on screen (bidirectional embeddings, overrides and isolates).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: object) -> str:
    """Text from data (a watchlist CSV's names, a source's error messages, an old database's
    rows) as it may be shown on a terminal: every control character written as ``\\xNN``, so
    none can send an escape sequence. Every place that prints such text goes through here
    (``say``, ``table``, ``error``, ``note``, the job's lines and its log)."""
    return _CONTROL.sub(_escape, str(text))


def say(text: str, *, style: str | None = None) -> None:
    """One line of text on stdout, data in it escaped. On a terminal Rich wraps it at word
    boundaries to the window's width; elsewhere it stays one line, for grep and logs (and
    Rich is not imported)."""
    if style is None and not sys.stdout.isatty():
        sys.stdout.write(safe(text) + "\n")
        return
    console = _stdout.real()
    console.print(safe(text), markup=False, style=style, soft_wrap=not console.is_terminal)


def error(message: str) -> None:
    """The one-line ``Error: …`` on stderr, as plain text: the message may quote user input."""
    sys.stderr.write(f"Error: {safe(message)}\n")
    sys.stderr.flush()


def note(message: str) -> None:
    sys.stderr.write(f"{safe(message)}\n")
    sys.stderr.flush()


def warning(message: str) -> None:
    """One ``Warning: …`` line on stderr: the command did what was asked, with a leftover."""
    sys.stderr.write(f"Warning: {safe(message)}\n")
    sys.stderr.flush()


def lock_files_left(report: JobPrune) -> None:
    """The lock files of deleted jobs that could not be removed (``jobs prune``, ``db prune
    --demo``), in one warning line; nothing when there are none."""
    left = report.lock_files_left
    if not left:
        return
    folder = str(Path(left[0]).parent)
    they = "it is" if len(left) == 1 else "they are"
    warning(
        f"{_plural(len(left), 'lock file')} of deleted jobs could not be removed from {folder}"
        f" ({report.lock_files_error}); {they} harmless (job ids are never reused) and may"
        " be deleted by hand"
    )


# --- output that fails -------------------------------------------------------------------------


class OutputClosed(Exception):  # noqa: N818 - not an error: the reader is done
    """stdout's reader went away (a closed pipe: ``| head``, ``| grep -q``). Not an OSError,
    so that nothing between the write and ``stockscan.cli.main`` mistakes it for one."""


class OutputFailed(Exception):  # noqa: N818
    """stdout could not be written: a full disk, an I/O error, a terminal hung up."""


class _Output:
    """What became of the output during this command."""

    def __init__(self) -> None:
        self.closed: list[str] = []  # streams whose reader went away
        self.failure: str | None = None  # the first write that failed, as an Error: message
        self.context = ""  # what to add to that message (a job: how to see its record)

    def failed(self, what: str, exc: OSError) -> None:
        if self.failure is None:
            reason = exc.strerror or str(exc)
            self.failure = f"cannot write to {what}: {reason}; the output is incomplete"


output = _Output()


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class _GuardedStream:
    """Stands in for ``sys.stdout`` or ``sys.stderr`` (``guard_streams``).

    The first write or flush that fails points the file descriptor at /dev/null (so that no
    later flush, the interpreter's last one included, fails again) and is recorded in
    ``output``. On stdout, it and every later write raise ``OutputClosed`` or ``OutputFailed``
    in the main thread, so a listing stops; a job's reporter catches them and goes on (a
    flush after that is a no-op). Other threads (Rich's refresh of the progress bar) and
    stderr never raise: their text is dropped. No ``buffer`` attribute: Click would write
    bytes around the encoding set here."""

    def __init__(self, inner: TextIO, name: str, *, raises: bool) -> None:
        self._inner = inner
        self.name = name
        self._raises = raises
        self._dead: Exception | None = None

    def _fail(self, exc: OSError) -> Exception:
        if self._dead is None:
            if isinstance(exc, BrokenPipeError) or exc.errno == errno.EPIPE:
                self._dead = OutputClosed(self.name)
                output.closed.append(self.name)
            else:
                self._dead = OutputFailed(self.name)
                output.failed(self.name, exc)
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self._inner.fileno())
                os.close(devnull)
            except (OSError, ValueError):
                pass
        return self._dead

    def _gone(self, exc: OSError | None = None) -> None:
        dead = self._fail(exc) if exc is not None else self._dead
        if dead is not None and self._raises and _main_thread():
            raise type(dead)(self.name)

    def write(self, text: str) -> int:
        if self._dead is not None:
            self._gone()
            return len(text)
        try:
            return self._inner.write(text)
        except OSError as exc:
            self._gone(exc)
            return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._dead is not None:
            return  # nothing left to flush (the interpreter's last flush comes here too)
        try:
            self._inner.flush()
        except OSError as exc:
            self._gone(exc)

    def isatty(self) -> bool:
        return self._dead is None and self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    @property
    def encoding(self) -> str:
        return self._inner.encoding

    @property
    def errors(self) -> str | None:
        return self._inner.errors

    @property
    def closed(self) -> bool:
        return self._inner.closed

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.flush()


def guard_streams() -> None:
    """Put the guards in front of sys.stdout and sys.stderr for this process (the console
    script's ``main``), and have both escape what their encoding cannot show (an ASCII
    locale, ``PYTHONIOENCODING=ascii``) instead of raising UnicodeEncodeError."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None or isinstance(stream, _GuardedStream):
            continue
        if hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass
        setattr(sys, name, _GuardedStream(stream, name, raises=name == "stdout"))


def finish_output() -> str | None:
    """Flush stdout and stderr at the end of the command; the ``Error:`` message of the first
    output that failed, if one did (a closed pipe is not one)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OutputClosed, OutputFailed, OSError, ValueError):
            pass
    if output.failure is None:
        return None
    return output.failure + (f" ({output.context})" if output.context else "")


def print_json(document: Any) -> None:
    """One JSON document on one line. No indent: with one, Python's json falls back from its
    C encoder to pure Python, three times slower on a 2,000-row listing (pipe to `jq` to
    read it)."""
    sys.stdout.write(json.dumps(document, default=str, separators=(",", ":")) + "\n")


def _cells(*values: str) -> list[Text]:
    """Table cells as plain text: tickers and error messages are never read as markup."""
    from rich.text import Text

    return [Text(v) for v in values]


def local_time(iso: str | None) -> str:
    """A stored timestamp (ISO-8601 UTC) as the user reads it: in the local time zone (TZ),
    with the zone named, to the second: ``2026-11-27 18:42:05 IST``. JSON keeps the stored
    UTC text; every table, ``jobs show`` and the HTML report show this."""
    if not iso:
        return "-"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso  # not ours (an import of the old system kept it as it was): show it as is
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone()
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or local.strftime('%z')}"


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def stock_line(outcome: StockOutcome, source: str) -> str:
    """One finished stock, as a plain line."""
    demo = " [demo]" if source == "demo" else ""
    if outcome.status == "failed":
        return f"{outcome.ticker:<14} FAILED  {outcome.error_kind}: {outcome.error_message}"
    if outcome.note:
        return f"{outcome.ticker:<14} unchanged: {outcome.note}{demo}"
    a = outcome.analysis
    assert a is not None
    head = f"{outcome.ticker:<14} {a.score:5.1f}  {a.verdict:<11} {a.analysis_date}"
    if outcome.status == "skipped":
        return f"{head}  SKIPPED {outcome.error_message}"
    plan, held = a.plan, outcome.position
    if plan.side == "none":
        trade = f"close {a.close:.2f}  no trade"
    elif held is not None and held.action == "avoid":
        trade = f"close {a.close:.2f}  {'; '.join(held.notes)}"
    else:
        trade = (
            f"{plan.side} entry {_fmt(plan.entry)} stop {_fmt(plan.stop)} "
            f"target {_fmt(plan.target)} qty {outcome.quantity}"
        )
        # Every note but the unknown band (which results show and --json keep saying).
        shown = [n for n in (held.notes if held else ()) if not n.startswith("price band unknown")]
        trade += "".join(f"  [{n}]" for n in shown)
    partial = " (last bar partial)" if not a.last_bar_complete else ""
    return f"{head}  {trade}{demo}{partial}"


class JobReporter:
    """Shows a job's progress. ``mode`` is ``live`` (a terminal), ``plain``, ``quiet`` (nothing
    until the summary, which lists the failures) or ``json`` (per-stock lines go to stderr so
    stdout stays one JSON document).

    Output is not the job: a write that fails (a closed pipe, a full disk, a hung-up terminal,
    the log file's disk full) stops that output, is recorded in ``output``, and the job goes
    on. Nothing here raises into the job loop."""

    def __init__(self, mode: str, source: str, log_file: Path | None = None) -> None:
        self.mode = mode
        self.source = source
        self.progress: Progress | None = None
        self.task: Any = None
        self.out: TextIO = sys.stderr if mode == "json" else sys.stdout
        self.muted = False  # the screen output failed: write no more of it
        self.log: TextIO | None = None
        self.log_name = f"--log-file {log_file}"
        if log_file is not None:
            try:
                self.log = log_file.open("a", encoding="utf-8", errors="backslashreplace")
            except OSError as exc:
                raise UsageError(f"--log-file {log_file}: {exc.strerror or exc}") from None

    def show(self, write: Callable[[], object]) -> None:
        """Run ``write``, which prints; if the output fails, mute the screen for the rest."""
        if self.muted:
            return
        try:
            write()
        except (OutputClosed, OutputFailed):
            self._mute()
        except OSError as exc:  # a stream with no guard (the app called in-process)
            if isinstance(exc, BrokenPipeError):
                output.closed.append("stdout")
            else:
                output.failed("stdout", exc)
            self._mute()

    def _mute(self) -> None:
        self.muted = True
        progress, self.progress = self.progress, None
        if progress is not None:
            try:
                progress.stop()
            except (OutputClosed, OutputFailed, OSError):
                pass

    def _log(self, line: str) -> None:
        """Append a line, time-stamped, to the --log-file: the record a cron job leaves."""
        if self.log is None:
            return
        stamp = datetime.now().astimezone().isoformat(timespec="seconds")
        try:
            self.log.write(f"{stamp} {safe(line)}\n")
            self.log.flush()
        except OSError as exc:
            output.failed(self.log_name, exc)
            log, self.log = self.log, None
            try:
                log.close()
            except OSError:
                pass

    def job_context(self, job: dict[str, Any]) -> None:
        """What an output error's message adds: the job is recorded whatever the screen got."""
        output.context = (
            f"job {job['id']} is recorded all the same: `stockscan jobs show {job['id']}`"
        )

    def log_summary(self, job: dict[str, Any], stocks: list[dict[str, Any]]) -> None:
        self._log(counts_line(job))
        for s in stocks:
            if s["error_kind"]:
                self._log(f"  {s['status']} {s['ticker']}: {s['error_kind']}: {s['error_message']}")

    def job_started(self, job: dict[str, Any], *, resumed: bool, todo: int) -> None:
        verb = "Resuming" if resumed else "Started"
        header = (
            f"{verb} job {job['id']}: {todo} of {job['total']} stocks to analyse, "
            f"source {SOURCE_NOTES.get(job['source'], job['source'])}"
        )
        self._log(header)
        self.job_context(job)
        if self.mode == "live":
            self.show(lambda: say(header))
            self.show(lambda: self._start_progress(todo))
        elif self.mode in ("plain", "json"):
            self.show(lambda: self._plain(header))

    def _start_progress(self, todo: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=_stdout.real(),
            transient=True,
        )
        self.progress.start()
        self.task = self.progress.add_task("analysing", total=todo)

    def _plain(self, line: str) -> None:
        if self.out is sys.stdout:
            say(line)  # wrapped at words on a terminal with no cursor control (TERM=dumb)
        else:
            self.out.write(safe(line) + "\n")
        self.out.flush()

    def stock_started(self, ticker: str) -> None:
        progress = self.progress
        if progress is not None:
            self.show(lambda: progress.update(self.task, description=f"analysing {ticker}"))

    def stock_finished(self, outcome: StockOutcome) -> None:
        line = safe(stock_line(outcome, self.source))
        self._log(line)
        progress = self.progress
        if progress is not None:
            style = "red" if outcome.status == "failed" else None

            def show() -> None:
                progress.console.print(line, markup=False, style=style, soft_wrap=False)
                progress.advance(self.task)

            self.show(show)
        elif self.mode in ("plain", "json"):
            self.show(lambda: self._plain(line))

    def summary(self, job: dict[str, Any], stocks: list[dict[str, Any]]) -> None:
        """The finished job's table and counts, unless the screen is gone."""
        self.job_context(job)
        # --quiet: the counts and the failures, not a row per stock (a cron mail each night).
        self.show(lambda: job_summary(job, stocks, with_table=self.mode != "quiet"))

    def close(self) -> None:
        progress, self.progress = self.progress, None
        if progress is not None:
            self.show(progress.stop)

    def __del__(self) -> None:
        if self.log is not None:
            try:
                self.log.close()
            except OSError:
                pass


def table(
    columns: list[str],
    rows: list[list[str]],
    *,
    right: set[str],
    title: str | None = None,
    wrap: frozenset[str] = frozenset(),
    optional: tuple[str, ...] = (),
) -> None:
    """A table on stdout: Rich on a terminal; plain aligned text otherwise, which stays
    readable in a cron log, greps well and costs nothing at thousands of rows. Cells and title
    are data: escaped (``safe``).

    On a terminal too narrow for the boxed table: one space between columns and a rule under
    the header, the free-text columns in ``wrap`` wrapped within themselves, then without
    the ``optional`` columns (least needed first), saying which are not shown; if even that
    does not fit, the plain text, which the terminal wraps. A value is never cut short: a
    price shown as ``3580.…`` would be worse than a wrapped line."""
    rows = [[safe(cell) for cell in row] for row in rows]
    title = safe(title) if title else None
    if stdout.is_terminal:
        from rich import box
        from rich.measure import Measurement
        from rich.table import Table

        console = _stdout.real()
        unbounded = console.options.update_width(100_000)
        compact: dict[str, Any] = {"box": box.SIMPLE_HEAD, "show_edge": False, "padding": (0, 0)}
        for hidden in range(len(optional) + 1):
            shown = [i for i, c in enumerate(columns) if c not in optional[:hidden]]
            for style in ({}, compact) if hidden == 0 else (compact,):
                rich_table = Table(title=title, title_justify="left", **style)
                for i in shown:
                    rich_table.add_column(
                        columns[i],
                        justify="right" if columns[i] in right else "left",
                        no_wrap=columns[i] not in wrap,
                    )
                for row in rows:
                    rich_table.add_row(*_cells(*(row[i] for i in shown)))
                measured = Measurement.get(console, unbounded, rich_table)
                fits = measured.maximum <= console.width or (
                    wrap and measured.minimum <= console.width
                )
                if fits:
                    console.print(rich_table)
                    if hidden:
                        say(
                            f"(not shown at {console.width} columns: "
                            f"{', '.join(optional[:hidden])}; a wider window shows them)"
                        )
                    return
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(width) if column in right else cell.ljust(width)
            for cell, width, column in zip(cells, widths, columns, strict=True)
        ).rstrip()

    out = ([title] if title else []) + [line(columns)] + [line(row) for row in rows]
    sys.stdout.write("\n".join(out) + "\n")


def job_summary(
    job: dict[str, Any], stocks: list[dict[str, Any]], *, with_table: bool = True
) -> None:
    """The table of a finished job's results, best score first (unless not ``with_table``),
    then the counts and what was not analysed."""
    done = [s for s in stocks if s["score"] is not None and with_table]
    done.sort(key=lambda s: (-s["score"], s["ticker"]))
    columns = ["ticker", "date", "score", "verdict", "side", "entry", "stop", "target", "qty"]
    if job["source"] == "demo":
        columns.append("data")
    rows = [
        [
            s["ticker"],
            s["analysis_date"],
            f"{s['score']:.1f}",
            s["verdict"],
            s["side"],
            _fmt(s["entry"]),
            _fmt(s["stop"]),
            _fmt(s["target"]),
            "-" if s["quantity"] is None else str(s["quantity"]),
            *(["demo"] if job["source"] == "demo" else []),
        ]
        for s in done
    ]
    if rows:
        title = f"Job {job['id']} · source {SOURCE_NOTES.get(job['source'], job['source'])}"
        table(columns, rows, right={"score", "entry", "stop", "target", "qty"}, title=title)
    say(counts_line(job))
    notes: dict[str, int] = {}
    for s in stocks:
        if s.get("note"):
            notes[s["note"]] = notes.get(s["note"], 0) + 1
    for note, count in sorted(notes.items()):
        say(f"  {count} unchanged: {note}")
    _problems(stocks)


def _problems(stocks: list[dict[str, Any]]) -> None:
    """Failed and skipped stocks, each on a line of its own with its reason."""
    for s in stocks:
        if s["error_kind"]:
            say(f"  {s['status']} {s['ticker']}: {s['error_kind']}: {s['error_message']}")


def counts_line(job: dict[str, Any]) -> str:
    parts = [f"{job['succeeded']} succeeded", f"{job['failed']} failed"]
    if job["skipped"]:
        parts.append(f"{job['skipped']} skipped")
    return f"Job {job['id']} {job['status']}: " + ", ".join(parts) + f" of {job['total']}"


def jobs_table(jobs: list[dict[str, Any]]) -> None:
    columns = ["id", "status", "source", "stocks", "ok", "failed", "skipped", "created"]
    rows = [
        [
            str(job["id"]),
            job.get("effective_status", job["status"]),
            job["source"],
            str(job["total"]),
            str(job["succeeded"]),
            str(job["failed"]),
            str(job["skipped"]),
            local_time(job["created_at"]),
        ]
        for job in jobs
    ]
    table(columns, rows, right={"id", "stocks", "ok", "failed", "skipped"})


def job_state(job: dict[str, Any]) -> str:
    """A job's status as true now (``stockscan.jobs.with_liveness``): a job stored running
    whose owner is gone is interrupted, and says how to continue it."""
    if job.get("owner_alive") is True:
        return f"running (pid {job['owner_pid']})"
    if job.get("owner_alive") is False:
        return (
            f"interrupted (owner pid {job['owner_pid']} is gone; the same command or"
            f" `stockscan jobs resume {job['id']}` continues it)"
        )
    return str(job["status"])


def job_detail(job: dict[str, Any], stocks: list[dict[str, Any]]) -> None:
    """``jobs show``: a header with everything about the job, then one row per stock."""
    params = json.loads(job["params"])
    lines = [
        f"Job {job['id']}: {job_state(job)}",
        f"  source      {SOURCE_NOTES.get(job['source'], job['source'])}",
        f"  parameters  capital {params['capital']:g}, risk {params['risk_pct']:g}%"
        + (f", data dir {params['data_dir']}" if params.get("data_dir") else "")
        if "capital" in params
        # a job imported from the old system, or the import itself: no capital was given
        else "  parameters  " + (", ".join(f"{k} {v}" for k, v in params.items()) or "-"),
        f"  run date    {job['run_date']}",
        f"  created     {local_time(job['created_at'])}",
        f"  started     {local_time(job['started_at'])}  (attempt {job['attempts']})",
        f"  finished    {local_time(job['finished_at'])}",
        f"  owner       pid {job['owner_pid']} on {job['owner_host']}"
        if job["owner_pid"] is not None
        else "  owner       -",
        f"  counts      {job['succeeded']} succeeded, {job['failed']} failed, "
        f"{job['skipped']} skipped, of {job['total']}",
    ]
    if job["message"]:
        lines.append(f"  note        {job['message']}")
    for line in lines:
        say(line)
    columns = ["#", "ticker", "status", "date", "score", "verdict", "entry", "stop", "target",
               "qty"]  # fmt: skip
    rows = [
        [
            str(s["position"]),
            s["ticker"],
            s["status"],
            s["analysis_date"] or "-",
            "-" if s["score"] is None else f"{s['score']:.1f}",
            s["verdict"] or "-",
            _fmt(s["entry"]),
            _fmt(s["stop"]),
            _fmt(s["target"]),
            "-" if s["quantity"] is None else str(s["quantity"]),
        ]
        for s in stocks
    ]
    table(columns, rows, right={"#", "score", "entry", "stop", "target", "qty"})
    # Errors get whole lines of their own: they are what a user came to read.
    _problems(stocks)


# --- results ----------------------------------------------------------------------------------

DEMO_NOTE = (
    "DEMO rows are synthetic prices, not market data; `stockscan db prune --demo` deletes them."
)
PARTIAL_NOTE = "* the last bar was still moving when analysed (partial)."


def result_fields() -> tuple[str, ...]:
    """Columns of every results listing in CSV, JSON and NDJSON."""
    from stockscan.store import RESULT_COLUMNS

    return (*RESULT_COLUMNS, "demo")


def _source_cell(row: dict[str, Any]) -> str:
    # Upper case so a demo row stands out in any listing, whatever else it shows.
    return "DEMO" if row["demo"] else str(row["analysis_source"])


def _date_cell(row: dict[str, Any]) -> str:
    return str(row["analysis_date"]) + ("*" if row["status"] == "partial" else "")


def _listing_notes(rows: list[dict[str, Any]]) -> None:
    if any(row["demo"] for row in rows):
        say(DEMO_NOTE)
    if any(row["status"] == "partial" for row in rows):
        say(PARTIAL_NOTE)


def results_table(rows: list[dict[str, Any]], *, title: str | None = None) -> None:
    """``results latest``: one row per ticker."""
    columns = ["ticker", "date", "score", "verdict", "side", "close", "entry", "stop", "target",
               "r:r", "source"]  # fmt: skip
    cells = [
        [
            row["ticker"],
            _date_cell(row),
            f"{row['score']:.1f}",
            row["verdict"],
            row["side"],
            _fmt(row["close"]),
            _fmt(row["entry"]),
            _fmt(row["stop"]),
            _fmt(row["target"]),
            _fmt(row["reward_risk"], 1),
            _source_cell(row),
        ]
        for row in rows
    ]
    table(
        columns,
        cells,
        right={"score", "close", "entry", "stop", "target", "r:r"},
        title=title,
        optional=("r:r", "close", "side"),
    )
    _listing_notes(rows)


def history_table(ticker: str, rows: list[dict[str, Any]]) -> None:
    """``results history``: newest first, with the move from the analysis before each."""
    columns = ["date", "score", "change", "verdict", "move", "side", "entry", "stop", "target",
               "source"]  # fmt: skip
    cells = []
    for row in rows:
        change = row["score_change"]
        previous = row["previous_verdict"]
        cells.append(
            [
                _date_cell(row),
                f"{row['score']:.1f}",
                "" if change is None else f"{change:+.1f}",
                row["verdict"],
                f"{previous} -> {row['verdict']}"
                if previous and previous != row["verdict"]
                else "",
                row["side"],
                _fmt(row["entry"]),
                _fmt(row["stop"]),
                _fmt(row["target"]),
                _source_cell(row),
            ]
        )
    title = f"{ticker}: {len(rows)} newest {'analysis' if len(rows) == 1 else 'analyses'}"
    table(columns, cells, right={"score", "change", "entry", "stop", "target"}, title=title)
    _listing_notes(rows)


def result_document(row: dict[str, Any]) -> dict[str, Any]:
    """``results show --json``: the result, its trade plan, ``indicators`` and ``components``
    (DESIGN.md), and where it came from. Indicators and components are null once the raw data
    has been pruned (``db prune --raw-older-than``); ``provenance.raw_data`` says so."""
    from stockscan.store import RAW_PRUNED_KEY, RESULT_COLUMNS

    payload = json.loads(row["raw_payload"]) if row["raw_payload"] else None
    # Raw data imported from elsewhere need not be an object of the engine's shape.
    raw: dict[str, Any] = payload if isinstance(payload, dict) else {}
    pruned_at = raw.get(RAW_PRUNED_KEY)
    if pruned_at:
        raw = {}
    plan = raw.get("plan")
    if not isinstance(plan, dict):
        plan = {}
    indicators = raw.get("indicators")
    components = raw.get("components")
    params = json.loads(row["job_params"]) if row["job_params"] else None
    return {
        **{name: row[name] for name in RESULT_COLUMNS},
        "demo": row["demo"],
        "plan": {
            "side": row["side"],
            "entry": row["entry"],
            "stop": row["stop"],
            "target": row["target"],
            "reward_risk": row["reward_risk"],
            "risk_per_share": plan.get("risk_per_share"),
            # The tick the prices are on (scoring version 2 on; null before).
            "tick": plan.get("tick"),
            "tick_rule": plan.get("tick_rule"),
        },
        "indicators": indicators if isinstance(indicators, dict) else None,
        "components": components if isinstance(components, list) else None,
        "bar": raw.get("bar"),
        "signals": raw.get("signals"),
        "provenance": {
            "source": row["analysis_source"],
            "demo": row["demo"],
            "job_id": row["job_id"],
            "job_status": row["job_status"],
            "market_date": row["analysis_date"],
            "last_bar_complete": row["status"] == "complete",
            "scoring_version": row["scoring_version"],
            "bars_used": row["bars_used"],
            # NULL on results from before migration m005 (unknown) and where not applicable.
            "fetched_at": row.get("fetched_at"),
            "source_version": row.get("source_version"),
            "auto_adjust": None if row.get("auto_adjust") is None else bool(row["auto_adjust"]),
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "raw_data": "pruned" if pruned_at else "present" if payload is not None else "missing",
            "raw_pruned_at": pruned_at,
        },
        # Quantity depends on the capital of the job that wrote the result: null once that
        # job has been pruned.
        "position": None
        if params is None
        else {
            "job_id": row["job_id"],
            "capital": params.get("capital"),
            "risk_pct": params.get("risk_pct"),
            "quantity": row["quantity"],
            **_job_position(row, params),
        },
    }


def _job_position(row: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    """The writing job's sides and cap, and what they make of the plan (null for a result of
    another scoring version or a job from before them)."""
    from stockscan.jobs import stored_position

    held = stored_position(row["ticker"], row, params)
    extra = {"sides": params.get("sides"), "max_position_pct": params.get("max_position_pct")}
    if held is None:
        return {**extra, "action": None, "notes": None}
    return {**extra, **{k: v for k, v in held.as_json().items() if k != "quantity"}}


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.4f}"


def result_detail(doc: dict[str, Any]) -> None:
    """``results show``: one result in full."""
    head = f"{doc['ticker']}  {doc['analysis_date']}  score {doc['score']:.1f}  {doc['verdict']}"
    say(head)
    if doc["demo"]:
        say("DEMO DATA: synthetic prices, not market data")
    plan, position = doc["plan"], doc["position"]
    action = position.get("action") if position else None
    if plan["side"] == "none":
        trade = f"no trade (close {_num(doc['close'])})"
    elif action == "avoid":
        trade = f"{plan['side']} verdict, close {_num(doc['close'])}: no short plan"
    else:
        trade = (
            f"{plan['side']}  entry {_num(plan['entry'])}  stop {_num(plan['stop'])}  "
            f"target {_num(plan['target'])}  reward:risk {_fmt(plan['reward_risk'], 1)}"
            + (f"  risk/share {_num(plan['risk_per_share'])}" if plan["risk_per_share"] else "")
        )
    if position is None:
        sizing = "quantity unknown: the job that wrote this result was pruned"
    elif position["capital"] is None:
        sizing = f"quantity unknown: job {position['job_id']} has no capital (an import)"
    else:
        sizing = (
            f"quantity {position['quantity'] if position['quantity'] is not None else '-'} "
            f"(job {position['job_id']}: capital {position['capital']:g}, "
            f"risk {position['risk_pct']:g}%"
            + (
                f", sides {position['sides']}, cap {position['max_position_pct']:g}%)"
                if position.get("sides")
                else ")"
            )
        )
    p = doc["provenance"]
    source = SOURCE_NOTES.get(p["source"], p["source"]).removeprefix(f"{p['source']}: ")
    raw = {"present": "kept", "missing": "missing"}.get(
        p["raw_data"], f"pruned {local_time(p['raw_pruned_at'])}"
    )
    lines = [
        "",
        "Trade plan",
        f"  {trade}",
        f"  {sizing}",
        *(f"  {note}" for note in (position or {}).get("notes") or ()),
        *([f"  prices on the tick: {plan['tick_rule']}"] if plan.get("tick_rule") else []),
        "",
        "Provenance",
        f"  source       {p['source']} ({source})",
        f"  job          {p['job_id']} ({p['job_status']})"
        if p["job_id"] is not None
        else "  job          pruned",
        f"  market date  {p['market_date']}, last bar "
        + ("complete" if p["last_bar_complete"] else "still moving (partial)"),
        f"  fetched      {local_time(p['fetched_at']) if p['fetched_at'] else 'unknown'}"
        + (f" by {p['source_version']}" if p["source_version"] else "")
        + ("" if p["auto_adjust"] is None else f", auto_adjust={p['auto_adjust']}"),
        f"  scoring      version {p['scoring_version']}, {p['bars_used'] or '?'} bars",
        f"  written      {local_time(p['created_at'])}, updated {local_time(p['updated_at'])}",
        f"  raw data     {raw}",
    ]
    for line in lines:
        say(line)
    if doc["indicators"] is not None:
        say("")
        table(
            ["indicator", "value"],
            [[name, _num(value)] for name, value in doc["indicators"].items()],
            right={"value"},
            title="Indicators at the last bar",
        )
    if doc["components"] is not None:
        say("")
        table(
            ["component", "points", "of", "reason"],
            [
                [c["name"], f"{c['points']:.1f}", f"{c['max_points']:g}", c["reason"]]
                for c in doc["components"]
            ],
            right={"points", "of"},
            title=f"Score components (total {doc['score']:.1f})",
            wrap=frozenset({"reason"}),
        )


def write_records(rows: Iterable[dict[str, Any]], fmt: str, out: TextIO) -> int:
    """Write rows as ``csv``, ``json`` (one array) or ``ndjson`` (one object a line), one at a
    time: memory stays constant however many rows come. Returns how many were written."""
    fields = result_fields()
    count = 0
    if fmt == "csv":
        import csv

        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
        return count
    if fmt == "json":
        out.write("[")
    for row in rows:
        text = json.dumps({name: row[name] for name in fields}, separators=(",", ":"))
        if fmt == "json":
            out.write(("\n" if count == 0 else ",\n") + text)
        else:
            out.write(text + "\n")
        count += 1
    if fmt == "json":
        out.write("\n]\n")
    return count


def _ids(ids: list[int]) -> str:
    if not ids:
        return ""
    if len(ids) <= 10:
        return f" (id{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))})"
    return f" (ids {ids[0]} to {ids[-1]})"


def _bytes(count: int) -> str:
    size = float(count)
    for unit in ("bytes", "KB", "MB"):
        if size < 1024:
            return f"{count} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def job_prune_report(report: JobPrune) -> None:
    """What ``jobs prune`` deleted (or would delete) and what the foreign keys did with it."""
    cutoff = local_time(report.cutoff)
    if not report.job_ids:
        say(f"No finished job finished before {cutoff}: nothing to prune.")
        return
    verb = "Would delete" if report.dry_run else "Deleted"
    lines = [
        f"{verb} {_plural(len(report.job_ids), 'finished job')}{_ids(report.job_ids)},"
        f" finished before {cutoff}:",
        f"  {_plural(report.details_deleted, 'stock row')} of these jobs go with them"
        " (ON DELETE CASCADE)",
        f"  {_plural(report.results_unlinked, 'result')} they wrote stay, with no job"
        " (job_id set to NULL)",
        f"  {_plural(report.watchlist_unlinked, 'watchlist row')} lose their last-job link"
        " (last_job_id set to NULL)",
    ]
    if not report.dry_run:
        lines.append(f"  {_plural(report.lock_files_removed, 'lock file')} removed")
    for line in lines:
        say(line)
    if report.dry_run:
        say("Dry run: nothing was changed.")


def db_prune_report(report: DbPrune) -> None:
    """What ``db prune`` deleted (or would delete) and what the foreign keys did with it."""
    lines = []
    if report.demo:
        jobs = report.demo_jobs.job_ids if report.demo_jobs else []
        job_rows = report.demo_jobs.details_deleted if report.demo_jobs else 0
        job_links = report.demo_jobs.watchlist_unlinked if report.demo_jobs else 0
        its = "its" if report.demo_results == 1 else "their"
        lines += [
            f"{'Would delete' if report.dry_run else 'Deleted'}"
            f" {_plural(report.demo_results, 'demo result')} with {its} raw data"
            f" ({_bytes(report.demo_raw_bytes)})",
            f"  and {_plural(len(jobs), 'finished demo job')}{_ids(jobs)} with"
            f" {'its' if len(jobs) == 1 else 'their'} {_plural(job_rows, 'stock row')}"
            " (ON DELETE CASCADE)",
            f"  {_plural(report.demo_watchlist_unlinked, 'watchlist row')} lose their"
            f" last-result link and {job_links} their last-job link (set to NULL)",
        ]
        if report.demo_details_unlinked:
            lines.append(
                f"  {_plural(report.demo_details_unlinked, 'stock row')} of other jobs lose"
                " their result link (result_id set to NULL)"
            )
    if report.future_after is not None:
        jobs = report.future_job_ids
        lines += [
            f"{'Would delete' if report.dry_run else 'Deleted'}"
            f" {_plural(report.future_results, 'result')} dated after the market date"
            f" {report.future_after}, with their raw data ({_bytes(report.future_raw_bytes)})",
            f"  {_plural(report.future_details_failed, 'stock row')} that wrote them become"
            f" failed (bad_data), in {_plural(len(jobs), 'job')}{_ids(jobs)}",
            f"  {_plural(report.future_watchlist_unlinked, 'watchlist row')} lose their"
            " last-result link (set to NULL)",
        ]
    if report.raw_before is not None:
        lines.append(
            f"{'Would drop' if report.dry_run else 'Dropped'} the raw data of"
            f" {_plural(report.raw_results, 'result')} with a market date before"
            f" {report.raw_before} ({_bytes(report.raw_bytes)}); the results stay"
        )
    verb = "Would delete" if report.dry_run else "Deleted"
    if report.prices_unused_before is not None:
        lines.append(
            f"{verb} the cached prices of {_plural(report.price_series, 'ticker')}"
            f" not fetched since {report.prices_unused_before}"
            f" ({_plural(report.price_series_bars, 'bar')})"
        )
    if report.prices_before is not None:
        lines.append(
            f"{verb} {_plural(report.price_old_bars, 'cached bar')} dated before"
            f" {report.prices_before}"
        )
        if report.price_series_emptied:
            lines.append(
                f"  which leaves {_plural(report.price_series_emptied, 'ticker')} with no"
                " cached bar: fetched whole again if ever asked for"
            )
    for line in lines:
        say(line)
    if report.dry_run:
        say("Dry run: nothing was changed.")
    else:
        say("`stockscan db vacuum` gives the freed space back to the disk.")


def watchlist_table(rows: list[dict[str, Any]]) -> None:
    """`watchlist list`: each followed ticker with its latest analysis; demo and stale marked."""
    columns = ["ticker", "name", "date", "score", "verdict", "entry", "stop", "target", "last run"]
    table_rows = []
    for r in rows:
        flags = [
            f for f, on in (("demo", r["analysis_source"] == "demo"), ("stale", r["stale"])) if on
        ]
        table_rows.append(
            [
                r["ticker"],
                r["name"] or "",
                (r["analysis_date"] or "-") + (f" ({', '.join(flags)})" if flags else ""),
                "-" if r["score"] is None else f"{r['score']:.1f}",
                r["verdict"] or "-",
                _fmt(r["entry"]),
                _fmt(r["stop"]),
                _fmt(r["target"]),
                r["analysis_status"] or "never",
            ]
        )
    table(
        columns,
        table_rows,
        right={"score", "entry", "stop", "target"},
        wrap=frozenset({"name"}),
        optional=("last run",),
    )


def changes_table(found: list[dict[str, Any]]) -> None:
    """`results changes`: one row per ticker that moved, with what happened."""
    columns = ["ticker", "from", "to", "score", "verdict", "what changed"]
    rows = [
        [
            c["ticker"] + (" (demo)" if c["analysis_source"] == "demo" else ""),
            c["prev_date"] or "-",
            c["analysis_date"],
            f"{c['score']:.1f} (first)"
            if c["prev_score"] is None
            else f"{c['prev_score']:.1f} → {c['score']:.1f}",
            c["verdict"],
            "; ".join(c["events"]),
        ]
        for c in found
    ]
    table(columns, rows, right=set(), wrap=frozenset({"what changed"}))
