"""Every command that draws or prints, run the way a person runs it: the installed console
script on a real pseudo-terminal (tests/terminal.py), at 80 and 120 columns with a colour
terminal, and again with NO_COLOR=1 and TERM=dumb. Each test asserts the exit code, the job's
final state in the database where a job is involved, and what is on the screen at the end."""

from __future__ import annotations

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


# --- the other commands, on a database with two jobs and a watchlist ---------------------------


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A watchlist of three (one with a name), `analyze` (job 1) and `scan` (job 2) of them,
    all with the demo source; the environment that points the commands at it."""
    import os

    from tests.conftest import run_cli

    root = tmp_path_factory.mktemp("scanned")
    home = root / "home"
    home.mkdir()
    env = {
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / ".local" / "share"),
        "STOCKSCAN_DB": str(root / "stockscan.db"),
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)  # run_cli passes os.environ on: never the real home
    try:
        for args in (
            ("watchlist", "add", "TCS.NS", "--name", "Tata Consultancy"),
            ("watchlist", "add", "INFY.NS", "RELIANCE.NS"),
            ("analyze", "--source", "demo", *TICKERS),
            ("scan", "--source", "demo"),
        ):
            done = run_cli(*args)
            assert done.returncode == 0, done.stderr
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return env


def on_screen(env: dict[str, str], columns: int, term: str, no_color: bool, *args: str) -> PtyRun:
    run = run_pty(*args, columns=columns, term=term, no_color=no_color, env=env)
    assert "Traceback" not in run.decoded
    assert_width(run, columns)
    assert "…" not in run.text, "a value was cut short"
    if no_color:
        assert_colour(run, colour_expected=False)
    return run


# Each read command, and lines that must be on its screen (as regular expressions).
READS = {
    "jobs list": (
        ["jobs", "list"],
        [r"^ *id +status +source", r"^ *2 +succeeded +demo +3 +3 +0 +0 ", r"^ *1 +succeeded"],
    ),
    "jobs show": (
        ["jobs", "show", "2"],
        [
            r"^Job 2: succeeded$",
            r"counts +3 succeeded, 0 failed, 0 skipped, of 3",
            r"\bRELIANCE\.NS\b.*\bsucceeded\b.*\b68\.4\b",
        ],
    ),  # fmt: skip
    "results latest": (
        ["results", "latest"],
        [
            r"^Newest result per ticker",
            r"RELIANCE\.NS .*68\.4 .*BUY .*DEMO",
            r"^DEMO rows are synthetic prices",
        ],
    ),  # fmt: skip
    "results history": (
        ["results", "history", "TCS.NS"],
        [r"^TCS\.NS: 1 newest analysis", r"52\.9 .*HOLD"],
    ),
    "results show": (
        ["results", "show", "INFY.NS"],
        [
            r"^INFY\.NS +\d{4}-\d\d-\d\d +score 27\.3 +SELL",
            r"^DEMO DATA",
            r"^Trade plan",
            r"^Provenance",
            r"Indicators at the last bar",
            r"Score components \(total 27\.3\)",
            r"rsi_14",
        ],
    ),  # fmt: skip
    "results chart": (
        ["results", "chart", "RELIANCE.NS"],
        [r"RELIANCE\.NS \d{4}-\d\d-\d\d · BUY · score 68", r"SMA 20", r"entry 118\.35"],
    ),
    "results changes": (
        ["results", "changes"],
        [r"No changes among 3 tickers analysed since \d{4}-\d\d-\d\d"],
    ),
    "watchlist list": (
        ["watchlist", "list"],
        [r"^ *ticker +name +date", r"TCS\.NS +Tata\b", r"RELIANCE\.NS .*68\.4 +BUY"],
    ),
    "db info": (
        ["db", "info"],
        [r"^database +\S+stockscan\.db$", r"analysis_jobs +2$", r"watchlist +3$"],
    ),
    "db check": (["db", "check"], [r"^integrity +ok$", r"^foreign_keys +ok$"]),
    "help": (
        ["--help"],
        [
            r"Usage: stockscan",
            r"\banalyze\b",
            r"\bresults\b",
            r"Exit codes",
            r"\b74\b.*output",
            r"\b130\b.*interrupted",
        ],
    ),  # fmt: skip
}


@pytest.mark.parametrize("command", list(READS))
@pytest.mark.parametrize(("columns", "term", "no_color"), TERMINALS[:3])
def test_read_commands_on_a_terminal(
    scanned: dict[str, str], command: str, columns: int, term: str, no_color: bool
) -> None:
    args, expected = READS[command]
    run = on_screen(scanned, columns, term, no_color, *args)
    assert run.code == 0, run.text
    unboxed = re.sub("[\u2500-\u257f]", " ", run.text)  # a table's lines, boxed or not
    for pattern in expected:
        assert re.search(pattern, unboxed, re.M), f"{pattern!r} not on the screen:\n{run.text}"
    assert job_status(Path(scanned["STOCKSCAN_DB"]), 2) == "succeeded"


def test_scan_on_a_terminal(db_path: Path) -> None:
    from tests.conftest import run_cli

    assert run_cli("watchlist", "add", *TICKERS).returncode == 0
    for columns, term, no_color in ((80, "xterm-256color", False), (120, "dumb", True)):
        run = run_pty("scan", "--source", "demo", columns=columns, term=term, no_color=no_color)
        assert run.code == 0, run.text
        assert "Traceback" not in run.decoded
        assert_width(run, columns)
        assert_colour(run, colour_expected=not no_color)
    # The second scan of the same bars keeps every result.
    assert "3 unchanged: no new bars since" in run.text
    assert run.screen[-2] == "Job 2 succeeded: 3 succeeded, 0 failed of 3"
    assert job_status(db_path, 1) == job_status(db_path, 2) == "succeeded"


@pytest.mark.parametrize(("columns", "term", "no_color"), TERMINALS[:1] + TERMINALS[2:3])
def test_jobs_resume_on_a_terminal(db_path: Path, columns: int, term: str, no_color: bool) -> None:
    """A job killed after its first stock, resumed on a terminal: the progress bar, the two
    stocks redone, the table of all three."""
    from tests.reliability.conftest import harness

    crashed = harness(
        "analyze", "--source", "demo", *TICKERS,
        config={"source": {}, "crash": {"checkpoint": "committed", "position": 1}},
    )  # fmt: skip
    assert crashed.returncode == -9, crashed.stderr
    assert job_status(db_path, 1) == "running"  # owner dead: what resume is for
    run = run_pty("jobs", "resume", "1", columns=columns, term=term, no_color=no_color)
    assert run.code == 0, run.text
    assert run.text.startswith("Resuming job 1: 2 of 3 stocks to analyse")
    assert "TCS.NS " in run.text and "INFY.NS " in run.text
    assert run.screen[-1] == "Job 1 succeeded: 3 succeeded, 0 failed of 3"
    assert_width(run, columns)
    assert_colour(run, colour_expected=not no_color)
    assert job_status(db_path, 1) == "succeeded"
