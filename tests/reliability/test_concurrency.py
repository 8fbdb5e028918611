"""Identical invocations started together, readers during a run, and stale jobs."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from stockscan import jobs, store
from stockscan.db import transaction
from tests.conftest import oracle, run_cli
from tests.fakes import FakeSource
from tests.reliability.conftest import harness, one, start_harness

# Long enough (several seconds) that every competitor starts while the winner still runs.
LONG = [f"C{i:04d}.NS" for i in range(1500)]
SOURCE: dict[str, object] = {"source": {}}


@pytest.mark.parametrize("count", [2, 4, 8])
def test_identical_invocations_started_together(tmp_path: Path, count: int) -> None:
    for round_ in range(2):
        db = tmp_path / f"race-{count}-{round_}.db"
        procs = [
            start_harness("analyze", "--source", "demo", *LONG, config=SOURCE, db=db)
            for _ in range(count)
        ]
        outputs = [p.communicate(timeout=300) for p in procs]
        codes = sorted(p.returncode for p in procs)
        assert codes == [0] + [3] * (count - 1), [err for _, err in outputs]
        for proc, (out, err) in zip(procs, outputs, strict=True):
            assert "locked" not in out + err
            if proc.returncode == 3:
                assert err.startswith("Error: an identical job is already running: job 1 (pid ")
        assert one(db, "SELECT count(*) FROM analysis_jobs")[0] == 1
        assert one(db, "SELECT count(*) FROM analysis_results")[0] == len(LONG)
        oracle(db, runs=[(p.returncode, out) for p, (out, _) in zip(procs, outputs, strict=True)])


def test_the_loser_exits_3_within_a_second_and_writes_nothing(db_path: Path) -> None:
    winner = start_harness("analyze", "--source", "demo", *LONG, config=SOURCE)
    assert winner.stdout is not None
    assert winner.stdout.readline().startswith("Started job 1")
    conn = sqlite3.connect(db_path)
    before = conn.execute("SELECT * FROM analysis_jobs").fetchall()
    began = time.monotonic()
    loser = harness("analyze", "--source", "demo", *reversed(LONG), config=SOURCE)
    took = time.monotonic() - began
    after = conn.execute(
        "SELECT id, request_key, owner_pid, attempts FROM analysis_jobs"
    ).fetchall()
    conn.close()
    assert loser.returncode == 3 and f"(pid {winner.pid} on " in loser.stderr
    assert took < 1.5, took  # a process start-up (~0.4 s here) plus one lock probe
    assert after == [(1, before[0][1], winner.pid, 1)]
    winner.send_signal(signal.SIGTERM)
    winner.communicate(timeout=60)


def test_readers_during_a_run_see_consistent_snapshots(db_path: Path) -> None:
    writer = start_harness("analyze", "--source", "demo", *LONG, config=SOURCE)
    assert writer.stdout is not None
    assert writer.stdout.readline().startswith("Started job 1")
    # Keep reading its output, or the writer blocks once the pipe is full.
    threading.Thread(target=writer.stdout.read, daemon=True).start()
    reads = 0
    while writer.poll() is None:
        shown = run_cli("jobs", "show", "1", "--json")
        assert shown.returncode == 0, shown.stderr
        document = json.loads(shown.stdout)
        by_status: dict[str, int] = {}
        for stock in document["stocks"]:
            by_status[stock["status"]] = by_status.get(stock["status"], 0) + 1
            if stock["status"] == "succeeded":
                assert stock["result_id"] is not None and stock["score"] is not None
        job = document["job"]
        # the job's counts and its stocks come from one snapshot
        assert job["succeeded"] == by_status.get("succeeded", 0)
        assert job["failed"] == by_status.get("failed", 0)
        listed = run_cli("jobs", "list", "--json")
        assert listed.returncode == 0, listed.stderr
        reads += 1
    assert writer.wait(timeout=60) == 0
    assert reads >= 3


def test_stale_jobs(conn: sqlite3.Connection, db_path: Path) -> None:
    """Dead owner: resumed. Live owner: untouched (exit 3). A stock whose attempts are
    exhausted: failed, and a job left with nothing else ends failed."""
    request = jobs.JobRequest(tickers=("A.NS", "B.NS"), source="demo")
    from stockscan.analysis import SCORING_VERSION
    from stockscan.market import last_weekday

    run_date = last_weekday().isoformat()
    with transaction(conn):
        job_id = store.create_job(
            conn, request_key=request.key(run_date, SCORING_VERSION), source="demo",
            params=request.params(), run_date=run_date, tickers=request.tickers,
            owner_pid=999999, owner_host="gone",
        )  # fmt: skip
        # Both stocks were started over and over by processes that died on them.
        conn.execute(
            "UPDATE analysis_jobs_details SET status = 'running', attempts = ?",
            (jobs.MAX_STOCK_ATTEMPTS,),
        )
    outcome = jobs.run(conn, request, jobs.SilentReporter(), source=FakeSource("demo"))
    assert outcome.job["id"] == job_id and outcome.job["status"] == "failed"
    assert outcome.exit_code == 4
    for stock in outcome.stocks:
        assert stock["error_kind"] == "attempts_exhausted"
        assert "gave up after 5 attempts" in stock["error_message"]
    oracle(db_path)


def test_a_job_whose_owner_lives_is_never_taken_over(db_path: Path) -> None:
    proc = start_harness("analyze", "--source", "demo", *LONG, config={"source": {"hang_at": 3}})
    assert proc.stderr is not None
    assert proc.stderr.readline() == "HARNESS: hanging\n"
    # However long it has been running, a live owner keeps its job: resume is refused too.
    resumed = run_cli("jobs", "resume", "1")
    assert resumed.returncode == 3 and f"pid {proc.pid}" in resumed.stderr
    assert one(db_path, "SELECT status, owner_pid FROM analysis_jobs") == ("running", proc.pid)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 130
    oracle(db_path)


def test_orphan_of_an_earlier_day_is_marked_interrupted_and_stays_resumable(
    conn: sqlite3.Connection, db_path: Path
) -> None:
    with transaction(conn):
        old = store.create_job(
            conn, request_key="an earlier day's key", source="demo",
            params={"capital": 100000.0, "risk_pct": 1.0, "data_dir": None},
            run_date="2026-11-20", tickers=["A.NS", "B.NS"], owner_pid=999999, owner_host="gone",
        )  # fmt: skip
    conn.close()
    today = harness("analyze", "--source", "demo", "A.NS", config=SOURCE)
    assert today.returncode == 0 and today.stdout.startswith("Started job 2")
    assert one(db_path, "SELECT status FROM analysis_jobs WHERE id = ?", old)[0] == "interrupted"
    resumed = harness("jobs", "resume", str(old), config=SOURCE)
    assert resumed.returncode == 0, resumed.stderr
    assert one(db_path, "SELECT status FROM analysis_jobs WHERE id = ?", old)[0] == "succeeded"
    oracle(db_path)


def test_resume_of_a_finished_job_and_of_an_unknown_job(db_path: Path) -> None:
    assert harness("analyze", "--source", "demo", "A.NS", config=SOURCE).returncode == 0
    done = run_cli("jobs", "resume", "1")
    assert done.returncode == 0
    unknown = run_cli("jobs", "resume", "7")
    assert unknown.returncode == 2 and unknown.stderr == f"Error: no job 7 in {db_path}\n"
