"""What the screen says must be true (issue 13): the real console script, as a user runs it.

Exit codes, one error style, --debug that never changes an exit code, statuses derived from
the job locks, --quiet, empty listings that say what was filtered, bare symbols, local times,
and help and cron lines that are safe to paste.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.conftest import harness, one, start_harness

STOCKSCAN = Path(sys.executable).parent / "stockscan"
BOX = set("╭╮╰╯│─┌┐└┘")


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """The installed console script, as a user types it (stdout a pipe, no terminal)."""
    return subprocess.run(
        [str(STOCKSCAN), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The whole of stderr must be one `Error:` line, with no box drawn round it."""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), proc.stderr
    assert not BOX & set(proc.stderr), proc.stderr
    return lines[0]


# --- 8. one error style for bad command lines -------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["analyze", "--source", "yahooo", "X.NS"],
         "Error: --source 'yahooo': expected one of yahoo, demo, csv"),
        (["analyze", "--capital", "abc", "X.NS"], "Error: --capital 'abc': expected a number"),
        (["jobs", "list", "--limit", "0"], "Error: --limit '0': expected at least 1"),
        (["jobs", "show", "abc"], "Error: JOB_ID 'abc': expected a whole number"),
        (["analyze", "--exchange", "XX", "A"],
         "Error: --exchange 'XX': expected one of NSE, BSE, none"),
        (["analyze"], "Error: missing argument TICKERS (see `stockscan analyze --help`)"),
        (["jobs", "show"], "Error: missing argument JOB_ID (see `stockscan jobs show --help`)"),
        (["analyze", "--bogus", "X.NS"],
         "Error: no such option: --bogus (see `stockscan analyze --help`)"),
        (["jobs", "list", "--limit"],
         "Error: option '--limit' requires an argument (see `stockscan jobs list --help`)"),
        (["joobs"],
         "Error: no such command 'joobs'. Did you mean 'jobs'? (see `stockscan --help`)"),
        (["results", "chart", "TCS.NS", "--bars", "500"],
         "Error: --bars '500': expected at most 250"),
    ],
)  # fmt: skip
def test_bad_command_lines_are_one_error_line_exit_2(args: list[str], expected: str) -> None:
    proc = run(*args)
    assert proc.returncode == 2, proc.stderr
    assert one_error_line(proc) == expected
    assert proc.stdout == ""


# --- 7. --debug never changes an exit code ----------------------------------------------------


def _not_a_database(tmp_path: Path) -> Path:
    bad = tmp_path / "garbage.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    return bad


@pytest.mark.parametrize("where", ["none", "before", "after", "env"])
def test_debug_keeps_every_exit_code(tmp_path: Path, where: str) -> None:
    def with_debug(
        *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        if where == "before":
            return run("--debug", *args, env=env)
        if where == "after":
            return run(*args, "--debug", env=env)
        if where == "env":
            return run(*args, env={**(env or {}), "STOCKSCAN_DEBUG": "1"})
        return run(*args, env=env)

    debugging = where != "none"
    run("analyze", "--source", "demo", "TCS.NS")
    # 2: invalid input, from the core and from the command line parser
    for args in (["jobs", "show", "999"], ["analyze", "--source", "yahooo", "X.NS"]):
        proc = with_debug(*args)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.strip().splitlines()[-1].startswith("Error: ")
        assert ("Traceback" in proc.stderr) is debugging, proc.stderr
    # 5: not a database
    proc = with_debug("jobs", "list", env={"STOCKSCAN_DB": str(_not_a_database(tmp_path))})
    assert proc.returncode == 5, proc.stderr
    assert ("Traceback" in proc.stderr) is debugging
    # 3: an identical job is running; 130: that job, stopped by SIGTERM
    hanging = start_harness(
        "analyze", "--source", "demo", "T1.NS", "T2.NS",
        *(["--debug"] if debugging else []), config={"source": {"hang_at": 1}},
    )  # fmt: skip
    assert hanging.stderr is not None
    assert hanging.stderr.readline() == "HARNESS: hanging\n"
    proc = with_debug("analyze", "--source", "demo", "T1.NS", "T2.NS")
    assert proc.returncode == 3, proc.stderr
    assert ("Traceback" in proc.stderr) is debugging
    hanging.send_signal(signal.SIGTERM)
    _, err = hanging.communicate(timeout=30)
    assert hanging.returncode == 130, err
    assert ("Traceback" in err) is debugging, err


def test_debug_is_listed_in_help() -> None:
    proc = run("--help")
    assert "--debug" in proc.stdout and "STOCKSCAN_DEBUG" in proc.stdout


# --- 1. a job whose owner is gone is not shown as running -------------------------------------


def _orphan(db: Path) -> int:
    """Job 2 left `running` by an owner killed with SIGKILL half-way; job 1 succeeded."""
    assert run("analyze", "--source", "demo", "TCS.NS").returncode == 0
    killed = harness(
        "analyze", "--source", "demo", "T1.NS", "T2.NS", "T3.NS",
        config={"source": {}, "crash": {"checkpoint": "written", "position": 2}},
    )  # fmt: skip
    assert killed.returncode == -signal.SIGKILL
    pid = one(db, "SELECT owner_pid FROM analysis_jobs WHERE id = 2")[0]
    assert one(db, "SELECT status FROM analysis_jobs WHERE id = 2")[0] == "running"
    return int(pid)


def test_a_job_whose_owner_died_shows_as_interrupted(db_path: Path) -> None:
    pid = _orphan(db_path)
    before = db_path.read_bytes()
    listing = run("jobs", "list")
    assert listing.returncode == 0, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if line.split()[0] == "2")
    assert "interrupted" in row.split() and "running" not in row
    shown = run("jobs", "show", "2")
    assert shown.returncode == 0, shown.stderr
    head = shown.stdout.splitlines()[0]
    assert head == (
        f"Job 2: interrupted (owner pid {pid} is gone; the same command or"
        " `stockscan jobs resume 2` continues it)"
    )
    assert "running" not in head
    document = json.loads(run("jobs", "show", "2", "--json").stdout)["job"]
    assert document["status"] == "running"  # as stored: a read command writes nothing
    assert document["owner_alive"] is False and document["effective_status"] == "interrupted"
    jobs = {j["id"]: j for j in json.loads(run("jobs", "list", "--json").stdout)["jobs"]}
    assert jobs[2]["effective_status"] == "interrupted" and jobs[2]["owner_alive"] is False
    assert jobs[1]["effective_status"] == "succeeded" and jobs[1]["owner_alive"] is None
    # the filters agree with what is shown
    interrupted = run("jobs", "list", "--status", "interrupted", "--json")
    assert [j["id"] for j in json.loads(interrupted.stdout)["jobs"]] == [2]
    running = run("jobs", "list", "--status", "running")
    assert running.stdout == "" and "No jobs with status running" in running.stderr
    assert db_path.read_bytes() == before  # nothing written by the read commands
    assert one(db_path, "SELECT status FROM analysis_jobs WHERE id = 2")[0] == "running"
    # and what the screen says is true: the job continues
    resumed = harness("jobs", "resume", "2", config={"source": {}})
    assert resumed.returncode == 0, resumed.stderr


def test_a_job_whose_owner_lives_shows_as_running(db_path: Path) -> None:
    hanging = start_harness(
        "analyze", "--source", "demo", "T1.NS", config={"source": {"hang_at": 1}}
    )
    assert hanging.stderr is not None
    assert hanging.stderr.readline() == "HARNESS: hanging\n"
    try:
        shown = run("jobs", "show", "1")
        assert shown.stdout.splitlines()[0] == f"Job 1: running (pid {hanging.pid})"
        job = json.loads(run("jobs", "list", "--status", "running", "--json").stdout)["jobs"][0]
        assert job["owner_alive"] is True and job["effective_status"] == "running"
    finally:
        hanging.send_signal(signal.SIGTERM)
        hanging.communicate(timeout=30)


# --- 2. --quiet prints the summary and the failures only --------------------------------------


def test_quiet_prints_the_summary_and_failures_only(db_path: Path) -> None:
    tickers = [f"Q{i:03d}.NS" for i in range(600)]
    proc = harness(
        "analyze", "--source", "demo", "--quiet", *tickers,
        config={"source": {"fail": {"Q007.NS": "no_data", "Q300.NS": "no_data"}}},
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "Job 1 partial: 598 succeeded, 2 failed of 600"
    assert len(lines) == 3, proc.stdout[:2000]
    assert lines[1].startswith("  failed Q007.NS: no_data") and "Q300.NS" in lines[2]


# --- 3. scan with nothing to scan -------------------------------------------------------------


def test_scan_without_a_database_says_how_to_add_tickers(db_path: Path) -> None:
    assert not db_path.exists()
    proc = run("scan")
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "stockscan watchlist add" in line and "analyze" not in line, line
    assert not db_path.exists() and not Path(str(db_path) + ".locks").exists()


def test_scan_of_an_empty_watchlist_says_how_to_add_tickers(db_path: Path) -> None:
    assert run("watchlist", "add", "TCS.NS").returncode == 0
    assert run("watchlist", "remove", "TCS.NS").returncode == 0
    proc = run("scan", "--source", "demo")
    assert proc.returncode == 2
    line = one_error_line(proc)
    assert "empty" in line and "stockscan watchlist add TCS.NS" in line, line


# --- 6. an empty listing says what was filtered -----------------------------------------------


def test_empty_listings_say_what_was_filtered(db_path: Path) -> None:
    for _ in range(3):
        assert run("analyze", "--source", "demo", "TCS.NS").returncode == 0
    cases = {
        ("jobs", "list", "--status", "partial"): "No jobs with status partial (3 jobs in all).",
        ("results", "latest", "--verdict", "STRONG_SELL", "--min-score", "99"):
            "No results match --verdict STRONG_SELL --min-score 99.",
        ("results", "latest", "--source", "yahoo"):
            "No results match --source yahoo.",
        ("results", "export", "--format", "csv", "--verdict", "STRONG_SELL", "--since",
         "2099-01-01"): "No results match --since 2099-01-01 --verdict STRONG_SELL.",
        ("watchlist", "list"):
            "The watchlist is empty: add tickers with `stockscan watchlist add TCS.NS`.",
    }  # fmt: skip
    for args, message in cases.items():
        proc = run(*args)
        assert proc.returncode == 0, (args, proc.stderr)
        assert proc.stderr.strip() == message, args
    proc = run("jobs", "list")
    assert "No jobs" not in proc.stderr


# --- 9. examples and the cron line are safe to paste ------------------------------------------


def _as_cron_runs(command: str) -> tuple[str, str]:
    """What cron hands to sh for a crontab command field: `\\%` becomes `%`, and the first
    unescaped `%` ends the command (the rest, its other `%` made newlines, is stdin)."""
    out, stdin, i = [], None, 0
    while i < len(command):
        if command.startswith("\\%", i):
            (out if stdin is None else stdin).append("%")
            i += 2
            continue
        char = command[i]
        if char == "%":
            if stdin is None:
                stdin = []
            else:
                stdin.append("\n")
        else:
            (out if stdin is None else stdin).append(char)
        i += 1
    return "".join(out), "".join(stdin or [])


def test_the_cron_line_survives_cron_and_sh_with_a_space_and_percent(tmp_path: Path) -> None:
    folder = tmp_path / "my data 100%"
    folder.mkdir()
    db, log = folder / "stock scan.db", folder / "scan log %d.txt"
    printed = run("cron", "--db", str(db), "--log-file", str(log))
    assert printed.returncode == 0, printed.stderr
    line = printed.stdout.strip().splitlines()[-1]
    command, stdin = _as_cron_runs(line.split(None, 5)[5])
    assert stdin == "", line
    # every argument reaches the program whole
    executable = shlex.split(command)[0]
    argv = subprocess.run(
        ["sh", "-c", "printf '%s\\n' " + command[len(shlex.quote(executable)) :]],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    assert argv == ["scan", "--quiet", "--db", str(db.resolve()), "--log-file", str(log.resolve())]
    # and run as cron would, it reads that database: no watchlist there yet, so exit 2 naming it
    ran = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60)
    assert ran.returncode == 2, ran.stderr
    assert f"no database at {db.resolve()})" in one_error_line(ran)


def test_help_examples_are_safe_to_paste() -> None:
    """`M&M.NS` unquoted runs `stockscan analyze RELIANCE.NS M` in the background."""
    from typer.testing import CliRunner

    from stockscan.cli import app

    commands = [[c.name or c.callback.__name__] for c in app.registered_commands if c.callback] + [
        [g.name, c.name]
        for g in app.registered_groups
        if g.typer_instance is not None
        for c in g.typer_instance.registered_commands
    ]
    examples = []
    for args in commands:
        out = CliRunner().invoke(app, [*map(str, args), "--help"]).stdout
        examples += [line.strip() for line in out.splitlines()
                     if line.strip().startswith("stockscan ")]  # fmt: skip
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    examples += [line.strip() for line in readme.splitlines() if "&" in line and "M&M" in line]
    assert len(examples) > 30 and sum("M&M.NS" in line for line in examples) >= 2  # help, README
    for example in examples:
        # a lone & or ; ends the command there: the rest runs as something else
        tokens = list(shlex.shlex(example, posix=True, punctuation_chars=True))
        assert "&" not in tokens and ";" not in tokens, example


# --- 5. times in the user's zone, named -------------------------------------------------------


@pytest.mark.parametrize(("zone", "name"), [("Asia/Kolkata", "IST"), ("UTC", "UTC")])
def test_times_are_local_with_the_zone_named(
    db_path: Path, tmp_path: Path, zone: str, name: str
) -> None:
    import datetime as dt
    from zoneinfo import ZoneInfo

    env = {"TZ": zone}
    assert run("analyze", "--source", "demo", "TCS.NS", env=env).returncode == 0
    created, started, finished = one(
        db_path, "SELECT created_at, started_at, finished_at FROM analysis_jobs WHERE id = 1"
    )

    def shown(iso: str) -> str:
        moment = dt.datetime.fromisoformat(iso).astimezone(ZoneInfo(zone))
        return f"{moment:%Y-%m-%d %H:%M:%S} {name}"

    listing = run("jobs", "list", env=env).stdout.splitlines()
    assert listing[0].split()[-1] == "created"
    assert listing[1].endswith(shown(created)), listing
    detail = run("jobs", "show", "1", env=env).stdout
    assert f"created     {shown(created)}" in detail
    assert f"started     {shown(started)}" in detail
    assert f"finished    {shown(finished)}" in detail
    page = tmp_path / "r.html"
    made = run("report", "--latest", "--output", str(page), env=env)
    assert made.returncode == 0, made.stderr
    html = page.read_text()
    assert f"started {shown(created)}" in html and f"finished {shown(finished)}" in html
    assert re.search(rf"Generated \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d {name} by", html), html[-300:]


# --- 4. bare symbols: another listing on Yahoo --------------------------------------------------

BARE_NOTE = "have no exchange suffix"


def test_a_bare_symbol_taken_as_is_is_said_once(db_path: Path) -> None:
    proc = run("analyze", "--source", "demo", "tcs.ns", "infy", "sbin")
    assert proc.returncode == 0, proc.stderr
    notes = [line for line in proc.stderr.splitlines() if BARE_NOTE in line or "suffix" in line]
    assert len(notes) == 1, proc.stderr
    assert "INFY, SBIN" in notes[0] and "--exchange NSE" in notes[0]
    assert "STOCKSCAN_EXCHANGE" in notes[0] and "TCS.NS" not in notes[0]
    tickers = [row[0] for row in sqlite3.connect(db_path).execute(
        "SELECT ticker FROM analysis_jobs_details ORDER BY position")]  # fmt: skip
    assert tickers == ["TCS.NS", "INFY", "SBIN"]


def test_the_default_exchange_is_a_setting(db_path: Path, tmp_path: Path) -> None:
    nse = run("analyze", "--source", "demo", "infy", "TCS.BO", env={"STOCKSCAN_EXCHANGE": "nse"})
    assert nse.returncode == 0, nse.stderr
    assert "suffix" not in nse.stderr
    bse = run(
        "analyze",
        "--source",
        "demo",
        "infy",
        "--exchange",
        "BSE",
        env={"STOCKSCAN_EXCHANGE": "NSE"},
    )  # fmt: skip  (the option wins)
    assert bse.returncode == 0, bse.stderr
    as_is = run("analyze", "--source", "demo", "AAPL", env={"STOCKSCAN_EXCHANGE": "none"})
    assert as_is.returncode == 0 and "suffix" not in as_is.stderr, as_is.stderr
    tickers = [row[0] for row in sqlite3.connect(db_path).execute(
        "SELECT ticker FROM analysis_jobs_details ORDER BY job_id, position")]  # fmt: skip
    assert tickers == ["INFY.NS", "TCS.BO", "INFY.BO", "AAPL"]
    bad = run("analyze", "--source", "demo", "X", env={"STOCKSCAN_EXCHANGE": "LSE"})
    assert bad.returncode == 2
    assert one_error_line(bad) == "Error: STOCKSCAN_EXCHANGE 'LSE': expected one of NSE, BSE, none"
    # a watchlist import of NSE's EQUITY_L.csv without --exchange says what it did
    listing = tmp_path / "EQUITY_L.csv"
    listing.write_text("SYMBOL,NAME OF COMPANY, SERIES\nSBIN,State Bank,EQ\nRELIANCE,RIL,EQ\n")
    imported = run("watchlist", "import", str(listing))
    assert imported.returncode == 0, imported.stderr
    assert "SBIN, RELIANCE" in imported.stderr and "--exchange NSE" in imported.stderr
    added = run("watchlist", "add", "tcs", env={"STOCKSCAN_EXCHANGE": "NSE"})
    assert "TCS.NS" in added.stderr and "suffix" not in added.stderr
    # the nightly scan says which watchlist symbols it takes as they are, and how to change it
    scan = run("scan", "--source", "demo")
    assert scan.returncode == 0, scan.stderr
    notes = [line for line in scan.stderr.splitlines() if "suffix" in line]
    assert len(notes) == 1 and "SBIN, RELIANCE" in notes[0] and "TCS" not in notes[0]
    assert "`stockscan watchlist add SBIN --exchange NSE`" in notes[0]


def test_the_request_key_of_suffixed_tickers_does_not_change(db_path: Path) -> None:
    """The same suffixed request, with or without a default exchange, is the same job."""
    first = run("analyze", "--source", "demo", "TCS.NS", "INFY.NS")
    again = run(
        "analyze", "--source", "demo", "tcs.ns", "INFY.NS", env={"STOCKSCAN_EXCHANGE": "NSE"}
    )
    assert first.returncode == 0 and again.returncode == 0
    keys = sqlite3.connect(db_path).execute("SELECT request_key FROM analysis_jobs").fetchall()
    assert len(set(keys)) == 1


def test_a_bare_lookup_points_to_the_suffixed_result(db_path: Path) -> None:
    assert run("analyze", "--source", "demo", "SBIN.NS").returncode == 0
    latest = run("results", "latest", "SBIN")
    assert latest.returncode == 0
    assert latest.stderr.strip() == (
        "No results for SBIN; SBIN.NS has results: stockscan results latest SBIN.NS"
    )
    for command in ("history", "show"):
        proc = run("results", command, "sbin")
        assert proc.returncode == 2
        line = one_error_line(proc)
        assert line.startswith("Error: no results for SBIN in ")
        assert line.endswith(f"; SBIN.NS has results: stockscan results {command} SBIN.NS"), line
    # and with the default exchange set, the bare symbol finds it
    found = run("results", "latest", "SBIN", "--json", env={"STOCKSCAN_EXCHANGE": "NSE"})
    assert [r["ticker"] for r in json.loads(found.stdout)["results"]] == ["SBIN.NS"]
