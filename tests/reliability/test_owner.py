"""One owner per job, however the database is reached: through a symlink, through a hard link,
with its lock directory deleted by a cleanup script, with the owner paused inside its write
transaction, with readers probing the owner's liveness while a dead owner's job is adopted."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from stockscan import store
from stockscan.db import transaction
from stockscan.locks import JobLock, owner_alive
from tests.conftest import oracle, run_cli
from tests.reliability.conftest import harness, one, start_harness
from tests.reliability.soak import SOURCE, attack

# Long enough (several seconds) that every competitor starts while the winner still runs.
LONG = [f"C{i:04d}.NS" for i in range(1500)]
SHORT = [f"H{i:04d}.NS" for i in range(300)]


def test_an_identical_request_through_a_symlink_exits_3(tmp_path: Path) -> None:
    assert attack("symlink", tmp_path, rounds=2, tickers=LONG) == []


def test_a_database_with_two_hard_links_is_refused_by_every_command(tmp_path: Path) -> None:
    assert attack("hardlink", tmp_path, rounds=1, tickers=SHORT) == []
    first, second = tmp_path / "hardlink-0" / "first.db", tmp_path / "hardlink-0" / "second.db"
    before = first.read_bytes()
    for db in (first, second):
        for args in (["jobs", "list"], ["db", "info"], ["results", "latest"], ["db", "migrate"]):
            refused = run_cli(*args, "--db", str(db))
            assert refused.returncode == 5, (args, refused.stdout, refused.stderr)
            assert refused.stderr.count("\n") == 1, refused.stderr
            assert refused.stderr.startswith(f"Error: {db}: 2 hard links"), refused.stderr
            assert "Traceback" not in refused.stderr
    assert first.read_bytes() == before
    assert not Path(f"{second}-wal").exists()
    # Removing the second name is the way out the message gives.
    second.unlink()
    assert run_cli("jobs", "list", "--db", str(first)).returncode == 0
    oracle(first)


def test_a_deleted_lock_directory_never_makes_a_live_owner_look_dead(tmp_path: Path) -> None:
    assert attack("lockdir", tmp_path, rounds=2, tickers=SHORT) == []


def test_a_paused_owner_still_owns_its_job(tmp_path: Path) -> None:
    assert attack("paused", tmp_path, rounds=3, tickers=SHORT) == []


def test_resume_of_a_paused_owners_job_exits_3_at_once(db_path: Path) -> None:
    pause = {"checkpoint": "written", "position": 2, "signal": "SIGSTOP"}
    owner = start_harness(
        "analyze", "--source", "demo", *SHORT, config={"source": {}, "crash": pause}
    )
    try:
        from tests.reliability.soak import _wait_stopped

        _wait_stopped(owner.pid)
        resumed = harness("jobs", "resume", "1", config=SOURCE, timeout=30)
        assert resumed.returncode == 3, resumed.stderr
        assert resumed.stderr == (
            f"Error: an identical job is already running: job 1 (pid {owner.pid} on "
            f"{os.uname().nodename})\n"
        )
    finally:
        owner.send_signal(signal.SIGCONT)
        owner.send_signal(signal.SIGTERM)
        owner.communicate(timeout=60)
    oracle(db_path)


def test_readers_probing_a_dead_owner_never_stop_its_adoption(tmp_path: Path) -> None:
    """Listings and maintenance commands test an owner's life while the same request adopts
    the job: a probe must never look, to the adopter, like a live owner."""
    assert attack("probes", tmp_path, rounds=4, tickers=SHORT) == []


def test_a_stock_that_ends_failed_or_running_has_no_result(db_path: Path) -> None:
    """However a detail's status is written, succeeded ⇔ it points at a result: a stock that
    succeeded and is then started again and failed (a second owner's stale view) drops it."""
    harness("analyze", "--source", "demo", "A.NS", "B.NS", config=SOURCE)
    conn: sqlite3.Connection = store.open(db_path)
    try:
        detail, job = conn.execute(
            "SELECT id, job_id FROM analysis_jobs_details WHERE ticker = 'A.NS'"
        ).fetchone()
        with transaction(conn):
            store.start_stock(conn, job, detail)
        assert one(db_path, "SELECT result_id FROM analysis_jobs_details WHERE id = ?", detail) == (
            None,
        )
        with transaction(conn):
            store.fail_stock(conn, job, detail, "A.NS", "network", "second owner failed it")
    finally:
        conn.close()
    status, result_id = one(
        db_path, "SELECT status, result_id FROM analysis_jobs_details WHERE id = ?", detail
    )
    assert (status, result_id) == ("failed", None)
    oracle(db_path)


def alive_elsewhere(db: Path, job_id: int) -> bool:
    """``owner_alive`` asked by another process."""
    asked = subprocess.run(
        [sys.executable, "-c", f"from stockscan.locks import owner_alive; from pathlib import "
         f"Path; print(owner_alive(Path({str(db)!r}), {job_id}))"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return {"True\n": True, "False\n": False}[asked.stdout]


def test_the_lock_survives_other_handles_closing_and_probes_create_nothing(
    db_path: Path,
) -> None:
    """The job lock is on the database file, where SQLite keeps POSIX locks that any close()
    drops: the job lock must not be one of them, and must not disturb them."""
    assert harness("db", "migrate", config=SOURCE).returncode == 0
    before = sorted(p.name for p in db_path.parent.iterdir())
    assert not owner_alive(db_path, 7) and not alive_elsewhere(db_path, 7)
    assert sorted(p.name for p in db_path.parent.iterdir()) == before  # probing wrote nothing
    with JobLock(db_path, 7) as lock:
        assert lock.try_acquire()
        assert not JobLock(db_path, 7).try_acquire()  # held, also within this process
        with JobLock(db_path, 8) as other:
            assert other.try_acquire()  # another job's byte is another lock
        for _ in range(3):  # other handles on the file open and close
            store.open(db_path).close()
            os.close(os.open(db_path, os.O_RDONLY))
        assert owner_alive(db_path, 7) and alive_elsewhere(db_path, 7)
        # SQLite's own locking still works around it: another process writes and reads.
        written = harness("analyze", "--source", "demo", "A.NS", config=SOURCE)
        assert written.returncode == 0, written.stderr
    assert not owner_alive(db_path, 7) and not alive_elsewhere(db_path, 7)
    oracle(db_path)
