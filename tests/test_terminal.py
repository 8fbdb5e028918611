"""Every command that draws or prints, run the way a person runs it: the installed console
script on a real pseudo-terminal (tests/terminal.py), at 80 and 120 columns with a colour
terminal, and again with NO_COLOR=1 and TERM=dumb. Each test asserts the exit code, the job's
final state in the database where a job is involved, and what is on the screen at the end."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest

from tests.terminal import PtyRun, render_screen, run_pty

TICKERS = ("TCS.NS", "INFY.NS", "RELIANCE.NS")
# (columns, TERM, NO_COLOR): what a person's terminal can be.
TERMINALS = [
    pytest.param(80, "xterm-256color", False, id="80-colour"),
    pytest.param(120, "xterm-256color", False, id="120-colour"),
    pytest.param(80, "dumb", True, id="80-dumb-nocolor"),
    pytest.param(120, "xterm-256color", True, id="120-nocolor"),
]


def job_status(db: Path, job_id: int) -> str:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT status FROM analysis_jobs WHERE id = ?", (job_id,)).fetchone()
    assert row is not None, f"no job {job_id}"
    return str(row[0])


def assert_width(run: PtyRun, columns: int) -> None:
    """Nothing was written past the right edge: replayed on a far wider screen, every line
    still fits the width the program was given (the terminal would have wrapped it)."""
    wide = render_screen(run.raw, 1000)
    too_wide = [line for line in wide if len(line) > columns]
    assert not too_wide, f"lines wider than {columns} columns: {too_wide}"


def assert_colour(run: PtyRun, *, colour_expected: bool) -> None:
    if colour_expected:
        assert run.coloured, "a colour terminal got no colour"
    else:
        assert not run.coloured, "NO_COLOR or TERM=dumb still got colour codes"


def analysed(db: Path, columns: int, term: str, no_color: bool, *tickers: str) -> PtyRun:
    run = run_pty("analyze", "--source", "demo", *tickers, columns=columns, term=term,
                  no_color=no_color)  # fmt: skip
    assert run.code == 0, run.text
    assert job_status(db, 1) == "succeeded"
    return run


@pytest.mark.parametrize(("columns", "term", "no_color"), TERMINALS)
def test_analyze_on_a_terminal(db_path: Path, columns: int, term: str, no_color: bool) -> None:
    """The README's first command, as a person types it: it used to crash on a terminal
    (Rich's progress bar was handed a lazy console stand-in), leaving the job running."""
    run = analysed(db_path, columns, term, no_color, *TICKERS)
    text = run.text
    assert "Traceback" not in run.decoded and "Error" not in text
    assert text.startswith("Started job 1: 3 of 3 stocks to analyse, source demo")
    # One line per stock as it finished, then the table sorted by score, then the counts.
    for ticker in TICKERS:
        assert re.search(rf"^{re.escape(ticker)}\s+\d+\.\d\s+[A-Z_]+\s+\d{{4}}-", text, re.M)
    assert "Job 1 · source demo: synthetic prices, not market data" in text
    rows = [line for line in run.screen if any(t in line for t in TICKERS)]
    assert len(rows) == 6  # three progress lines and three table rows
    assert run.screen[-1] == "Job 1 succeeded: 3 succeeded, 0 failed of 3"
    assert "analysing" not in text  # the progress bar is transient: gone at the end
    assert_width(run, columns)
    assert_colour(run, colour_expected=not no_color)
    assert "…" not in text  # no value cut short to fit


def test_analyze_draws_a_progress_bar(db_path: Path) -> None:
    """On a colour terminal the progress bar is drawn while the job runs (and removed)."""
    run = analysed(db_path, 100, "xterm-256color", False, *TICKERS)
    assert "analysing" in run.decoded  # it was drawn
    assert re.search(r"\d/3", run.decoded)  # M of N
    assert "\x1b[?25l" in run.decoded  # the cursor hidden while drawing …
    assert "\x1b[?25h" in run.decoded  # … and shown again
