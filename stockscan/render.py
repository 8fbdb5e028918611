"""Everything the user sees. Two consoles: stdout for data, stderr for diagnostics.

On a terminal the job shows a Rich progress bar and one line per stock as it finishes; when
stdout is not a terminal (cron, pipes) the same lines are written plain: no ANSI codes, no
spinners. ``--json`` writes one JSON document to stdout and nothing else there.
"""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from stockscan.jobs import StockOutcome

stdout = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)

SOURCE_NOTES = {
    "demo": "demo: synthetic prices, not market data",
    "yahoo": "Yahoo Finance",
    "csv": "CSV files",
}


def error(message: str) -> None:
    """The one-line ``Error: …`` on stderr. Never markup: the message may quote user input."""
    stderr.print(f"Error: {message}", markup=False, highlight=False)


def note(message: str) -> None:
    stderr.print(message, markup=False, highlight=False)


def print_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=str) + "\n")


def _cells(*values: str) -> list[Text]:
    """Table cells as plain text: tickers and error messages are never read as markup."""
    return [Text(v) for v in values]


def _fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def stock_line(outcome: StockOutcome, source: str) -> str:
    """One finished stock, as a plain line."""
    demo = " [demo]" if source == "demo" else ""
    if outcome.status == "failed":
        return f"{outcome.ticker:<14} FAILED  {outcome.error_kind}: {outcome.error_message}"
    a = outcome.analysis
    assert a is not None
    head = f"{outcome.ticker:<14} {a.score:5.1f}  {a.verdict:<11} {a.analysis_date}"
    if outcome.status == "skipped":
        return f"{head}  SKIPPED {outcome.error_message}"
    plan = a.plan
    if plan.side == "none":
        trade = f"close {a.close:.2f}  no trade"
    else:
        trade = (
            f"{plan.side} entry {_fmt(plan.entry)} stop {_fmt(plan.stop)} "
            f"target {_fmt(plan.target)} qty {outcome.quantity}"
        )
    partial = " (last bar partial)" if not a.last_bar_complete else ""
    return f"{head}  {trade}{demo}{partial}"


class JobReporter:
    """Shows a job's progress. ``mode`` is ``live`` (a terminal), ``plain``, ``quiet`` (nothing
    until the summary, which lists the failures) or ``json`` (per-stock lines go to stderr so
    stdout stays one JSON document)."""

    def __init__(self, mode: str, source: str) -> None:
        self.mode = mode
        self.source = source
        self.progress: Progress | None = None
        self.task: Any = None
        self.out: TextIO = sys.stderr if mode == "json" else sys.stdout

    def job_started(self, job: dict[str, Any], *, resumed: bool, todo: int) -> None:
        verb = "Resuming" if resumed else "Started"
        header = (
            f"{verb} job {job['id']}: {todo} of {job['total']} stocks to analyse, "
            f"source {SOURCE_NOTES.get(job['source'], job['source'])}"
        )
        if self.mode == "live":
            stdout.print(header, markup=False)
            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=stdout,
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task("analysing", total=todo)
        elif self.mode in ("plain", "json"):
            self.out.write(header + "\n")
            self.out.flush()

    def stock_started(self, ticker: str) -> None:
        if self.progress is not None:
            self.progress.update(self.task, description=f"analysing {ticker}")

    def stock_finished(self, outcome: StockOutcome) -> None:
        line = stock_line(outcome, self.source)
        if self.progress is not None:
            style = "red" if outcome.status == "failed" else None
            self.progress.console.print(line, markup=False, style=style)
            self.progress.advance(self.task)
        elif self.mode in ("plain", "json"):
            self.out.write(line + "\n")
            self.out.flush()

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None


def table(
    columns: list[str], rows: list[list[str]], *, right: set[str], title: str | None = None
) -> None:
    """A table on stdout: Rich on a terminal; plain aligned text otherwise, which stays
    readable in a cron log, greps well and costs nothing at thousands of rows."""
    if stdout.is_terminal:
        rich_table = Table(title=title, title_justify="left")
        for column in columns:
            rich_table.add_column(
                column, justify="right" if column in right else "left", no_wrap=True
            )
        for row in rows:
            rich_table.add_row(*_cells(*row))
        stdout.print(rich_table)
        return
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(width) if column in right else cell.ljust(width)
            for cell, width, column in zip(cells, widths, columns, strict=True)
        ).rstrip()

    out = ([title] if title else []) + [line(columns)] + [line(row) for row in rows]
    sys.stdout.write("\n".join(out) + "\n")


def job_summary(job: dict[str, Any], stocks: list[dict[str, Any]]) -> None:
    """The table of a finished job's results, best score first, then what was not analysed."""
    done = [s for s in stocks if s["score"] is not None]
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
    stdout.print(counts_line(job), markup=False)
    _problems(stocks)


def _problems(stocks: list[dict[str, Any]]) -> None:
    """Failed and skipped stocks, each on a line of its own with its reason."""
    for s in stocks:
        if s["error_kind"]:
            stdout.print(
                f"  {s['status']} {s['ticker']}: {s['error_kind']}: {s['error_message']}",
                markup=False,
            )


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
            job["status"],
            job["source"],
            str(job["total"]),
            str(job["succeeded"]),
            str(job["failed"]),
            str(job["skipped"]),
            job["created_at"][:19].replace("T", " "),
        ]
        for job in jobs
    ]
    table(columns, rows, right={"id", "stocks", "ok", "failed", "skipped"})


def job_detail(job: dict[str, Any], stocks: list[dict[str, Any]]) -> None:
    """``jobs show``: a header with everything about the job, then one row per stock."""
    params = json.loads(job["params"])
    lines = [
        f"Job {job['id']}: {job['status']}",
        f"  source      {SOURCE_NOTES.get(job['source'], job['source'])}",
        f"  parameters  capital {params['capital']:g}, risk {params['risk_pct']:g}%"
        + (f", data dir {params['data_dir']}" if params.get("data_dir") else ""),
        f"  run date    {job['run_date']}",
        f"  created     {job['created_at']}",
        f"  started     {job['started_at']}  (attempt {job['attempts']})",
        f"  finished    {job['finished_at'] or '-'}",
        f"  owner       pid {job['owner_pid']} on {job['owner_host']}",
        f"  counts      {job['succeeded']} succeeded, {job['failed']} failed, "
        f"{job['skipped']} skipped, of {job['total']}",
    ]
    if job["message"]:
        lines.append(f"  note        {job['message']}")
    for line in lines:
        stdout.print(line, markup=False)
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
