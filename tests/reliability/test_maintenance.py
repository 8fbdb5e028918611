"""Maintenance never races the work: every check a maintenance command relies on is made
inside the transaction that acts on it, and a refused command changes nothing."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from stockscan.locks import lock_dir
from stockscan.sources.demo import demo_bars
from tests.conftest import oracle
from tests.reliability.conftest import one
from tests.reliability.test_environment import read_only

STOCKSCAN = str(Path(sys.executable).parent / "stockscan")
DEMO = [f"D{i:04d}.NS" for i in range(400)]


def cli(*args: str, db: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STOCKSCAN, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "STOCKSCAN_DB": str(db)},
        stdin=subprocess.DEVNULL,
    )


def start(*args: str, db: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [STOCKSCAN, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "STOCKSCAN_DB": str(db)},
        stdin=subprocess.DEVNULL,
    )


def waiting_for_lock(proc: subprocess.Popen[str], db: Path, timeout: float = 10) -> None:
    """Until ``proc`` has the database open (past start-up, so at its BEGIN IMMEDIATE)."""
    deadline = time.monotonic() + timeout
    target = os.path.realpath(db)
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        try:
            fds = os.listdir(f"/proc/{proc.pid}/fd")
        except FileNotFoundError:
            break
        for fd in fds:
            try:
                if os.readlink(f"/proc/{proc.pid}/fd/{fd}") == target:
                    time.sleep(0.2)  # the connection's first reads, then the wait
                    return
            except OSError:
                continue
        time.sleep(0.02)
    raise AssertionError("the process never opened the database")


def test_demo_prune_never_deletes_the_results_of_a_job_that_started_while_it_waited(
    tmp_path: Path,
) -> None:
    """A demo job and `db prune --demo` both wait for a write lock a third connection holds.
    Whichever gets it first, the job's succeeded stocks keep their results: the prune either
    runs before the job exists or sees it running and refuses (exit 3)."""
    rounds, broken, refused = 6, 0, 0
    for round_ in range(rounds):
        db = tmp_path / f"race-{round_}.db"
        assert cli("analyze", "--source", "demo", "OLD.NS", db=db).returncode == 0
        holder = sqlite3.connect(db, isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        # The prune waits first, long enough for SQLite's busy handler to poll it only every
        # 100 ms; the job, just started, polls every few ms and gets the lock first.
        prune = start("db", "prune", "--demo", db=db)
        waiting_for_lock(prune, db)
        time.sleep(0.5)
        job = start("analyze", "--source", "demo", *DEMO, db=db)
        waiting_for_lock(job, db)
        holder.execute("ROLLBACK")
        holder.close()
        pruned_out, pruned_err = prune.communicate(timeout=120)
        job_out, job_err = job.communicate(timeout=300)
        assert job.returncode == 0, job_err
        assert prune.returncode in (0, 3), pruned_err
        if prune.returncode == 3:
            refused += 1
            assert pruned_err.startswith("Error: job 2 is running"), pruned_err
        conn = sqlite3.connect(db)
        lost = conn.execute(
            "SELECT count(*) FROM analysis_jobs_details"
            " WHERE status = 'succeeded' AND result_id IS NULL"
        ).fetchone()[0]
        results = conn.execute("SELECT count(*) FROM analysis_results WHERE job_id = 2").fetchone()[
            0
        ]
        conn.close()
        if lost or results != len(DEMO):
            broken += 1
            continue
        oracle(db)
    print(f"demo prune race: {rounds} rounds, {broken} broken, {refused} refused")
    assert broken == 0, f"{broken} of {rounds} rounds lost results of the running job"


def test_jobs_prune_with_an_unwritable_lock_directory_deletes_and_warns(tmp_path: Path) -> None:
    """The deletion is what was asked for and it is committed; a lock file that cannot be
    removed is named in one warning line (exit 0, no traceback). It is harmless: jobs lock a
    byte of the database file now (stockscan.locks), and job ids are AUTOINCREMENT, never
    handed out again, so no future job uses that file."""
    db = tmp_path / "prune.db"
    for ticker in ("A.NS", "B.NS"):
        assert cli("analyze", "--source", "demo", ticker, db=db).returncode == 0
    # the lock files an earlier build left, one per job (this build makes none)
    locks = lock_dir(db)
    locks.mkdir()
    for name in ("job-1.lock", "job-2.lock"):
        (locks / name).touch()
    with read_only(locks):
        pruned = cli("jobs", "prune", "--older-than", "0", db=db)
        as_json = cli("jobs", "prune", "--older-than", "0", "--json", db=db)
    assert pruned.returncode == 0, pruned.stderr
    assert "Traceback" not in pruned.stderr
    assert pruned.stdout.startswith("Deleted 2 finished jobs (ids 1, 2)"), pruned.stdout
    assert pruned.stderr.count("\n") == 1, pruned.stderr
    assert pruned.stderr.startswith("Warning: 2 lock files of deleted jobs could not be removed")
    assert str(locks) in pruned.stderr
    assert as_json.returncode == 0 and json.loads(as_json.stdout)["jobs_deleted"] == 0
    assert one(db, "SELECT count(*) FROM analysis_jobs")[0] == 0
    # ids are never reused: the next job is 3, not 1, whatever lock files are left
    assert cli("analyze", "--source", "demo", "C.NS", db=db).returncode == 0
    assert one(db, "SELECT max(id) FROM analysis_jobs")[0] == 3
    oracle(db)
    # the files the warning named are still there; the new job made none
    assert sorted(p.name for p in locks.iterdir()) == ["job-1.lock", "job-2.lock"]


def write_csv(directory: Path, ticker: str, end: str = "2026-11-27") -> None:
    bars = demo_bars(ticker, np.datetime64(end, "D"))
    lines = ["Date,Open,High,Low,Close,Volume"]
    columns = zip(bars.dates, bars.open, bars.high, bars.low, bars.close, bars.volume, strict=True)
    lines += [",".join(str(value) for value in row) for row in columns]
    (directory / f"{ticker}.csv").write_text("\n".join(lines) + "\n")


def job_row(db: Path, job_id: int) -> tuple[object, ...]:
    return tuple(one(db, "SELECT * FROM analysis_jobs WHERE id = ?", job_id))


def test_a_refused_resume_leaves_the_job_byte_identical(tmp_path: Path) -> None:
    """Every option and the job's own parameters are checked before the job is adopted: a
    resume refused with exit 2 leaves the job as it was (not running, no extra attempt)."""
    db, data = tmp_path / "resume.db", tmp_path / "prices"
    data.mkdir()
    write_csv(data, "GOOD.NS")
    ran = cli("analyze", "--source", "csv", "--data-dir", str(data), "GOOD.NS", "GONE.NS", db=db)
    assert ran.returncode == 1, ran.stderr  # GONE.NS has no file: the job is partial
    before = job_row(db, 1)
    assert before[2] == "partial"
    workers = cli("jobs", "resume", "1", "--fetch-workers", "2", db=db)
    assert workers.returncode == 2, workers.stderr
    assert workers.stderr == "Error: --fetch-workers: only for --source yahoo, not csv\n"
    assert job_row(db, 1) == before
    data.rename(tmp_path / "moved")
    moved = cli("jobs", "resume", "1", db=db)
    assert moved.returncode == 2, moved.stderr
    assert moved.stderr == f"Error: --data-dir {data}: not a directory\n"
    assert job_row(db, 1) == before
    oracle(db)
    # put back, the same resume runs: the refusals left nothing in its way
    (tmp_path / "moved").rename(data)
    write_csv(data, "GONE.NS")
    resumed = cli("jobs", "resume", "1", db=db)
    assert resumed.returncode == 0, resumed.stderr
    assert one(db, "SELECT status, attempts FROM analysis_jobs WHERE id = 1") == ("succeeded", 2)
    oracle(db)
