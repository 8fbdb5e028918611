"""``analyze``, ``scan`` and ``jobs resume``: a job's progress as it runs.

On a terminal the job shows a Rich progress bar and one line per stock as it finishes; when
stdout is not a terminal (cron, pipes) the same lines are written plain: no ANSI codes, no
spinners. ``--json`` writes one JSON document to stdout and nothing else there.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from stockscan import clock
from stockscan.errors import UsageError
from stockscan.jobs import StockOutcome
from stockscan.render.base import SOURCE_NOTES, fmt, rich_stdout, safe, say
from stockscan.render.jobs import counts_line, job_summary
from stockscan.render.streams import OutputClosed, OutputFailed, output

if TYPE_CHECKING:
    from rich.progress import Progress


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
            f"{plan.side} entry {fmt(plan.entry)} stop {fmt(plan.stop)} "
            f"target {fmt(plan.target)} qty {outcome.quantity}"
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
        stamp = clock.now().astimezone().isoformat(timespec="seconds")
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

    def job_context(self, job: Mapping[str, Any]) -> None:
        """What an output error's message adds: the job is recorded whatever the screen got."""
        output.context = (
            f"job {job['id']} is recorded all the same: `stockscan jobs show {job['id']}`"
        )

    def log_summary(self, job: Mapping[str, Any], stocks: Sequence[Mapping[str, Any]]) -> None:
        self._log(counts_line(job))
        for s in stocks:
            if s["error_kind"]:
                self._log(f"  {s['status']} {s['ticker']}: {s['error_kind']}: {s['error_message']}")

    def job_started(self, job: Mapping[str, Any], *, resumed: bool, todo: int) -> None:
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
            console=rich_stdout(),
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

    def summary(self, job: Mapping[str, Any], stocks: Sequence[Mapping[str, Any]]) -> None:
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
