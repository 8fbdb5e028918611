"""Signals, crashes and concurrent invocations, with real processes."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import oracle, run_cli

TICKERS = [f"T{i:04d}.NS" for i in range(1500)]


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "stockscan", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def wait_for_stock_lines(proc: subprocess.Popen[str], count: int) -> None:
    assert proc.stdout is not None
    seen = 0
    while seen < count:
        line = proc.stdout.readline()
        assert line, "process ended before analysing anything"
        if line.startswith("T"):
            seen += 1


def statuses(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return dict(
            conn.execute("SELECT status, count(*) FROM analysis_jobs_details GROUP BY status")
        )
    finally:
        conn.close()


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupt_exits_130_with_one_line_and_resume_finishes(db_path: Path, sig: int) -> None:
    proc = start("analyze", "--source", "demo", *TICKERS)
    wait_for_stock_lines(proc, 3)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert err.count("\n") == 1 and err.startswith("Error: interrupted; job 1 is left resumable")
    assert "Traceback" not in err
    oracle(db_path)
    done = statuses(db_path)
    assert "running" not in done and done["pending"] > 0

    resumed = run_cli("jobs", "resume", "1", timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith("Resuming job 1:")
    assert statuses(db_path) == {"succeeded": len(TICKERS)}
    oracle(db_path)


def test_kill_9_then_the_same_command_adopts_the_job(db_path: Path) -> None:
    proc = start("analyze", "--source", "demo", *TICKERS)
    wait_for_stock_lines(proc, 5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=30)
    oracle(db_path, dead_owners=True)  # whatever was committed is whole
    conn = sqlite3.connect(db_path)
    status, pid = conn.execute("SELECT status, owner_pid FROM analysis_jobs").fetchone()
    done_before = conn.execute(
        "SELECT count(*) FROM analysis_jobs_details WHERE status = 'succeeded'"
    ).fetchone()[0]
    conn.close()
    assert (status, pid) == ("running", proc.pid)  # the database cannot know it died...
    assert done_before >= 5

    again = run_cli("analyze", "--source", "demo", *TICKERS, timeout=300)
    assert again.returncode == 0, again.stderr
    # ...the lock does: the same command adopts job 1 and redoes only what was not done.
    first = again.stdout.splitlines()[0]
    assert first.startswith(f"Resuming job 1: {len(TICKERS) - done_before} of {len(TICKERS)}")
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT count(*) FROM analysis_jobs").fetchone()[0] == 1
    assert conn.execute("SELECT count(*) FROM analysis_results").fetchone()[0] == len(TICKERS)
    conn.close()
    oracle(db_path)
