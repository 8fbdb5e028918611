"""One owner per job, however the database is reached: through a symlink, through a hard link,
with its lock directory deleted by a cleanup script, with the owner paused inside its write
transaction, with readers probing the owner's liveness while a dead owner's job is adopted."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
from pathlib import Path

from stockscan import store
from stockscan.db import open_db, transaction
from stockscan.locks import owner_alive
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


def test_readers_probing_a_dead_owner_never_stop_its_adoption(db_path: Path) -> None:
    """Listings and maintenance commands test an owner's life while the same request adopts
    the job: a probe must never look, to the adopter, like a live owner."""
    broken = []
    for round_ in range(4):
        crash = {"source": {}, "crash": {"checkpoint": "started", "position": 2}}
        db = db_path.with_name(f"adopt-{round_}.db")
        killed = harness("analyze", "--source", "demo", *SHORT, config=crash, db=db)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        stop = threading.Event()
        probes = [0]
        readers = [threading.Thread(target=probe_until, args=(db, stop, probes)) for _ in range(2)]
        for reader in readers:
            reader.start()
        try:
            adopter = harness("analyze", "--source", "demo", *SHORT, config=SOURCE, db=db)
        finally:
            stop.set()
            for reader in readers:
                reader.join()
        assert probes[0] > 100
        if adopter.returncode != 0:
            broken.append((round_, adopter.returncode, adopter.stderr))
        else:
            oracle(db, runs=[(killed.returncode, killed.stdout), (0, adopter.stdout)])
    assert broken == []


def probe_until(db: Path, stop: threading.Event, probes: list[int]) -> None:
    """What a listing does: ask whether job 1's owner lives, again and again."""
    while not stop.is_set():
        assert not owner_alive(db, 1)
        probes[0] += 1


def test_a_stock_that_ends_failed_or_running_has_no_result(db_path: Path) -> None:
    """However a detail's status is written, succeeded ⇔ it points at a result: a stock that
    succeeded and is then started again and failed (a second owner's stale view) drops it."""
    harness("analyze", "--source", "demo", "A.NS", "B.NS", config=SOURCE)
    conn: sqlite3.Connection = open_db(db_path)
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
