"""What the screen says must be true (issue 13): the real console script, as a user runs it.

Exit codes, one error style, --debug that never changes an exit code, statuses derived from
the job locks, --quiet, empty listings that say what was filtered, bare symbols, local times,
and help and cron lines that are safe to paste.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.conftest import start_harness

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
