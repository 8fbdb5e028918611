"""Output that fails must not fail the job (README: "When the output goes away").

Real processes of the console script: stdout a pipe whose reader is gone (for every command
that prints), `| head -1` and `| grep -q` on a job that is still running, stdout and the log
file on a full disk (/dev/full, and a small tmpfs where this process may mount one), an ASCII
stdout, SIGHUP (the terminal or ssh session gone, signalled and for real) and SIGUSR1 on a
running job, and names and messages from data that carry terminal escape sequences."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_cli, tmpfs
from tests.reliability.conftest import ROOT, harness_cmd, harness_env
from tests.terminal import STOCKSCAN, run_pty, send

TICKERS = ("TCS.NS", "INFY.NS", "RELIANCE.NS")
SLOW = [f"T{i:04d}.NS" for i in range(1, 7)]  # six stocks at 0.3 s each on the fake source


def job_note(db: Path, job_id: int = 1) -> str:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT message FROM analysis_jobs WHERE id = ?", (job_id,)).fetchone()
    return str(row[0])


def job_status(db: Path, job_id: int = 1) -> str:
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT status FROM analysis_jobs WHERE id = ?", (job_id,)).fetchone()
    assert row is not None, f"no job {job_id}"
    return str(row[0])


def run(
    *args: str, stdout: Any = subprocess.PIPE, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The console script, stderr captured, stdout where the test says."""
    return subprocess.run(
        [str(STOCKSCAN), *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def into_closed_pipe(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run with stdout a pipe whose reader has already gone (`stockscan … | true`)."""
    read, write = os.pipe()
    os.close(read)
    try:
        return run(*args, stdout=write, env=env)
    finally:
        os.close(write)


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A database with a watchlist, two analyses (jobs 1 and 2) and a scan (job 3), demo
    source."""
    root = tmp_path_factory.mktemp("scanned")
    (root / "home").mkdir()
    env = {
        "HOME": str(root / "home"),
        "XDG_DATA_HOME": str(root / "home" / "share"),
        "STOCKSCAN_DB": str(root / "stockscan.db"),
    }
    # An earlier market date first (the harness's fake bars end on a Friday before), so that
    # `results changes` has moves to list.
    earlier = subprocess.run(
        harness_cmd("analyze", "--source", "demo", *TICKERS),
        env={**harness_env({"source": {}}), **env}, cwd=ROOT, capture_output=True, timeout=120,
    )  # fmt: skip
    assert earlier.returncode == 0, earlier.stderr
    for args in (
        ("watchlist", "add", *TICKERS),
        ("analyze", "--source", "demo", *TICKERS),
        ("scan", "--source", "demo"),
    ):
        done = run(*args, env=env)
        assert done.returncode == 0, done.stderr
    return env


# Every command that prints to stdout, on the scanned database, with the exit code it has
# when its output is read to the end.
PRINTERS: dict[str, list[str]] = {
    "jobs list": ["jobs", "list"],
    "jobs list --json": ["jobs", "list", "--json"],
    "jobs show": ["jobs", "show", "1"],
    "jobs show --json": ["jobs", "show", "1", "--json"],
    "jobs prune": ["jobs", "prune", "--older-than", "30", "--dry-run"],
    "results latest": ["results", "latest"],
    "results latest --csv": ["results", "latest", "--csv"],
    "results history": ["results", "history", "TCS.NS"],
    "results show": ["results", "show", "TCS.NS"],
    "results chart": ["results", "chart", "TCS.NS", "--width", "100"],
    "results changes": ["results", "changes"],
    "results export": ["results", "export", "--format", "ndjson"],
    "watchlist list": ["watchlist", "list"],
    "db info": ["db", "info"],
    "db check": ["db", "check"],
    "db schema": ["db", "schema"],
    "db prune": ["db", "prune", "--demo", "--dry-run"],
    "cron": ["cron"],
    "help": ["--help"],
    "analyze --help": ["analyze", "--help"],
    "version": ["--version"],
}


@pytest.mark.parametrize("command", list(PRINTERS))
def test_a_closed_pipe_stops_a_read_command_quietly(scanned: dict[str, str], command: str) -> None:
    """`stockscan … | head`: the reader went away. Exit 0, as when it read everything, and
    nothing on stderr (they used to exit 1, some with a traceback)."""
    args = PRINTERS[command]
    read = run(*args, env=scanned)
    assert read.returncode == 0  # read to the end
    assert read.stdout
    done = into_closed_pipe(*args, env=scanned)
    assert done.returncode == 0, done.stderr
    # No error: at most the notes a full read prints (`results changes` counts on stderr).
    assert set(done.stderr.splitlines()) <= set(read.stderr.splitlines()), done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["analyze", "--source", "demo", *TICKERS],
        ["analyze", "--source", "demo", "--json", *TICKERS],
        ["analyze", "--source", "demo", "--quiet", *TICKERS],
        ["scan", "--source", "demo"],
    ],
    ids=["analyze", "analyze --json", "analyze --quiet", "scan"],
)
def test_a_closed_pipe_does_not_stop_the_job(db_path: Path, args: list[str]) -> None:
    assert run_cli("watchlist", "add", *TICKERS).returncode == 0
    done = into_closed_pipe(*args)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Error" not in done.stderr
    assert job_status(db_path) == "succeeded"


def test_jobs_resume_into_a_closed_pipe_finishes_the_job(db_path: Path) -> None:
    crashed = subprocess.run(
        harness_cmd("analyze", "--source", "demo", *TICKERS),
        env=harness_env({"source": {}, "crash": {"checkpoint": "committed", "position": 1}}),
        cwd=ROOT, capture_output=True, timeout=120,
    )  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL
    done = into_closed_pipe("jobs", "resume", "1")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert job_status(db_path) == "succeeded"


def slow_job(*args: str, config: dict[str, Any] | None = None) -> list[str]:
    """A shell line running the harness's slow fake source (0.3 s a stock)."""
    source = {"delay_s": 0.3, **(config or {})}
    env = json.dumps({"source": source})
    command = " ".join(harness_cmd(*args))
    return ["bash", "-c", f"STOCKSCAN_HARNESS='{env}' {command}"]


@pytest.mark.parametrize(
    ("reader", "args", "shown"),
    [
        ("head -1", ["analyze", "--source", "demo", *SLOW], "Started job 1: 6 of 6"),
        ("grep -q -m1 T0002", ["scan", "--source", "demo"], ""),
    ],
    ids=["analyze | head -1", "scan | grep -q"],
)
def test_a_reader_that_stops_early_leaves_the_job_running_to_its_end(
    db_path: Path, reader: str, args: list[str], shown: str
) -> None:
    """The reader exits after the first line (or match) while the job has stocks to go: they
    used to exit 1, silently, with the job left `running` under a dead owner."""
    assert run_cli("watchlist", "add", *SLOW).returncode == 0
    pipeline = slow_job(*args)
    pipeline[-1] += f' | {reader}; echo "status ${{PIPESTATUS[0]}}" >&2'
    done = subprocess.run(
        pipeline, capture_output=True, text=True, timeout=120, cwd=ROOT, env=os.environ
    )
    assert done.stdout.startswith(shown)
    assert done.stderr.splitlines()[-1] == "status 0", done.stderr
    assert "Error" not in done.stderr and "Traceback" not in done.stderr
    assert job_status(db_path) == "succeeded"
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT succeeded FROM analysis_jobs").fetchone() == (6,)


# --- a full disk -------------------------------------------------------------------------------


def assert_one_error(stderr: str, what: str) -> None:
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, stderr
    assert errors[0].startswith(f"Error: cannot write to {what}: No space left on device")
    assert "Traceback" not in stderr


@pytest.mark.parametrize(
    "args",
    [
        ["analyze", "--source", "demo", *TICKERS],
        ["analyze", "--source", "demo", "--json", *TICKERS],
    ],
    ids=["analyze", "analyze --json"],
)
def test_stdout_on_a_full_disk_is_one_error_and_the_job_is_done(
    db_path: Path, args: list[str]
) -> None:
    with open("/dev/full", "w") as full:
        done = run(*args, stdout=full)
    assert done.returncode == 74, done.stderr
    assert_one_error(done.stderr, "stdout")
    assert "job 1 is recorded all the same: `stockscan jobs show 1`" in done.stderr
    assert job_status(db_path) == "succeeded"


@pytest.mark.parametrize("command", ["jobs show", "results latest", "db info", "help"])
def test_a_read_command_on_a_full_disk_is_one_error(scanned: dict[str, str], command: str) -> None:
    with open("/dev/full", "w") as full:
        done = run(*PRINTERS[command], stdout=full, env=scanned)
    assert done.returncode == 74, done.stderr
    assert_one_error(done.stderr, "stdout")


def test_a_job_that_failed_keeps_its_exit_code_when_stdout_fails_too(db_path: Path) -> None:
    """Exit 1 (some stocks failed) says more than 74: it wins, and the Error line is there."""
    config = {"source": {"fail": {"INFY.NS": "no_data"}}}
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            harness_cmd("analyze", "--source", "demo", *TICKERS),
            env=harness_env(config), cwd=ROOT, stdout=full, stderr=subprocess.PIPE, text=True,
            timeout=120,
        )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert_one_error(done.stderr, "stdout")
    assert job_status(db_path) == "partial"


@pytest.fixture
def full_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs, filled up."""
    with tmpfs(tmp_path / "full", "64k") as mount:
        filler = os.open(mount / "filler", os.O_WRONLY | os.O_CREAT)
        with contextlib.suppress(OSError):
            while os.write(filler, b"\0" * 4096):
                pass
        os.close(filler)
        yield mount


def test_the_log_file_on_a_full_disk_is_one_error_and_the_job_is_done(
    db_path: Path, full_tmpfs: Path
) -> None:
    assert run_cli("watchlist", "add", *TICKERS).returncode == 0
    log = full_tmpfs / "scan.log"
    done = run("scan", "--source", "demo", "--log-file", str(log))
    assert done.returncode == 74, done.stderr
    assert_one_error(done.stderr, f"--log-file {log}")
    # The screen got everything: only the log failed.
    assert "Job 1 succeeded: 3 succeeded, 0 failed of 3" in done.stdout
    assert job_status(db_path) == "succeeded"


def test_stdout_redirected_to_a_full_disk(db_path: Path, full_tmpfs: Path) -> None:
    with open(full_tmpfs / "out.txt", "w") as out:
        done = run("analyze", "--source", "demo", *TICKERS, stdout=out)
    assert done.returncode == 74, done.stderr
    assert_one_error(done.stderr, "stdout")
    assert job_status(db_path) == "succeeded"


# --- characters the output cannot show ---------------------------------------------------------

ASCII = {"PYTHONIOENCODING": "ascii"}


def test_an_ascii_stdout_gets_escapes_not_a_traceback(db_path: Path) -> None:
    """The summary's title has a `·`: it used to raise UnicodeEncodeError after the job had
    succeeded."""
    done = run("analyze", "--source", "demo", *TICKERS, env=ASCII)
    assert done.returncode == 0, done.stderr
    assert "Job 1 \\xb7 source demo" in done.stdout
    assert done.stderr == ""
    assert job_status(db_path) == "succeeded"
    scanned = run("watchlist", "add", *TICKERS), run("scan", "--source", "demo", env=ASCII)
    assert scanned[1].returncode == 0, scanned[1].stderr


def test_a_name_outside_the_encoding_is_escaped(db_path: Path) -> None:
    assert run_cli("watchlist", "add", "BNP.PA", "--name", "Société Générale").returncode == 0
    done = run("watchlist", "list", env=ASCII)
    assert done.returncode == 0, done.stderr
    assert "Soci\\xe9t\\xe9 G\\xe9n\\xe9rale" in done.stdout
    on_terminal = run_pty("watchlist", "list", env=ASCII, columns=100)
    assert on_terminal.code == 0, on_terminal.text
    assert "Soci\\xe9t\\xe9" in on_terminal.text


def test_an_ascii_terminal(db_path: Path) -> None:
    """Rich on a terminal whose encoding is ASCII draws with ASCII: no traceback."""
    shown = run_pty("analyze", "--source", "demo", *TICKERS, env=ASCII, columns=100)
    assert shown.code == 0, shown.text
    assert "Job 1 succeeded: 3 succeeded, 0 failed of 3" in shown.text
    assert job_status(db_path) == "succeeded"


# --- signals -----------------------------------------------------------------------------------


def start_slow(*args: str, config: dict[str, Any]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        harness_cmd(*args), env=harness_env(config), cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def wait_for_line(stream: Any, text: str) -> None:
    for line in stream:
        if text in line:
            return
    raise AssertionError(f"{text!r} never came")


def test_sighup_interrupts_the_job_resumably(db_path: Path) -> None:
    """What a dropped ssh session sends: handled like SIGTERM (it used to kill the process and
    leave the job `running`)."""
    proc = start_slow("analyze", "--source", "demo", *SLOW, config={"source": {"hang_at": 2}})
    wait_for_line(proc.stderr, "HARNESS: hanging")
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Error: interrupted; job 1 is left resumable" in err
    assert job_status(db_path) == "interrupted"
    assert job_note(db_path) == "interrupted by SIGHUP"
    resumed = run_cli("jobs", "resume", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert job_status(db_path) == "succeeded"


def test_a_terminal_that_goes_away_interrupts_the_job(db_path: Path) -> None:
    """For real: the terminal closes under a running job (the kernel hangs up its session, and
    every later write to it fails)."""
    program = harness_cmd()
    shown = run_pty(
        "analyze", "--source", "demo", *SLOW,
        program=program, env=harness_env({"source": {"hang_at": 3}}),
        on_output=lambda raw, proc: b"HARNESS: hanging" in raw,
    )  # fmt: skip
    assert shown.code == 130
    assert job_status(db_path) == "interrupted"
    assert job_note(db_path) == "interrupted by SIGHUP"


def test_sighup_on_a_terminal_says_how_to_resume(db_path: Path) -> None:
    sent = []

    def hang_up(raw: bytes, proc: subprocess.Popen[bytes]) -> None:
        if b"HARNESS: hanging" in raw and not sent:
            sent.append(True)
            send(proc, signal.SIGHUP)

    shown = run_pty(
        "analyze", "--source", "demo", *SLOW, program=harness_cmd(),
        env=harness_env({"source": {"hang_at": 2}}), on_output=hang_up, columns=100,
    )  # fmt: skip
    assert shown.code == 130, shown.text
    assert "Error: interrupted; job 1 is left resumable" in shown.text
    assert job_status(db_path) == "interrupted"


def test_sigusr1_is_ignored(db_path: Path) -> None:
    """SIGUSR1 (and SIGUSR2) mean nothing to stockscan: the job runs on (it used to die with
    the job `running`)."""
    proc = start_slow("analyze", "--source", "demo", *SLOW, config={"source": {"delay_s": 0.3}})
    assert proc.stdout is not None
    wait_for_line(proc.stdout, "T0001.NS")
    proc.send_signal(signal.SIGUSR1)
    time.sleep(0.1)
    proc.send_signal(signal.SIGUSR2)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Job 1 succeeded: 6 succeeded, 0 failed of 6" in out
    assert job_status(db_path) == "succeeded"


# --- terminal escapes in data ------------------------------------------------------------------

EVIL = "Evil\x1b]0;pwned\x07\x1b[2J\x1b[31mRed\u202e"
SHOWN = "Evil\\x1b]0;pwned\\x07\\x1b[2J\\x1b[31mRed\\u202e"


def test_names_from_a_watchlist_csv_cannot_send_escapes(db_path: Path, tmp_path: Path) -> None:
    csv = tmp_path / "list.csv"
    csv.write_text(f"SYMBOL,NAME OF COMPANY\nTCS.NS,{EVIL}\n", encoding="utf-8")
    assert run_cli("watchlist", "import", str(csv)).returncode == 0
    plain = run("watchlist", "list")
    assert plain.returncode == 0
    assert SHOWN in plain.stdout and "\x1b" not in plain.stdout
    shown = run_pty("watchlist", "list", columns=200)
    assert shown.code == 0
    assert b"\x1b]0;" not in shown.raw and b"\x1b[2J" not in shown.raw
    assert SHOWN in shown.text


def test_messages_from_a_source_cannot_send_escapes(db_path: Path) -> None:
    config = {"source": {"fail": {"INFY.NS": "no_data"}, "messages": {"INFY.NS": EVIL}}}
    shown = run_pty(
        "analyze", "--source", "demo", *TICKERS, program=harness_cmd(), env=harness_env(config),
        columns=200,
    )  # fmt: skip
    assert shown.code == 1, shown.text
    assert b"\x1b]0;" not in shown.raw and b"\x1b[2J" not in shown.raw
    assert f"no_data: {SHOWN}" in shown.text
    # And from the database, later: jobs show prints the stored message escaped.
    plain = run("jobs", "show", "1")
    assert f"no_data: {SHOWN}" in plain.stdout and "\x1b" not in plain.stdout
    on_terminal = run_pty("jobs", "show", "1", columns=200)
    assert b"\x1b]0;" not in on_terminal.raw
    assert f"no_data: {SHOWN}" in on_terminal.text


def test_old_rows_cannot_send_escapes(db_path: Path) -> None:
    assert run_cli("analyze", "--source", "demo", *TICKERS).returncode == 0
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE analysis_jobs SET message = ?", (EVIL,))
        conn.execute("UPDATE analysis_jobs_details SET error_kind = 'no_data', error_message = ?",
                     (EVIL,))  # fmt: skip
    for args in (["jobs", "show", "1"], ["jobs", "list"]):
        shown = run_pty(*args, columns=200)
        assert shown.code == 0, shown.text
        assert b"\x1b]0;" not in shown.raw and b"\x1b[2J" not in shown.raw, args
    assert f"note        {SHOWN}" in run("jobs", "show", "1").stdout
