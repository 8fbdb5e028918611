"""A bad environment gets one line naming the path and the problem, exit 5, no traceback, and
the database file and its -wal are never modified or deleted."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import oracle, run_cli
from tests.reliability.conftest import harness


def files(db: Path) -> dict[str, bytes]:
    """The database and its -wal, byte for byte (-shm is SQLite's scratch index). An empty
    -wal counts as none: SQLite creates one to open a WAL database, even read-only."""
    wal = Path(f"{db}-wal")
    found = {db.name: db.read_bytes()}
    if wal.exists() and wal.stat().st_size:
        found[wal.name] = wal.read_bytes()
    return found


@contextmanager
def read_only(path: Path) -> Iterator[None]:
    """Make ``path`` read-only even for root: the immutable attribute where we are root."""
    if os.geteuid() != 0:
        mode = path.stat().st_mode
        path.chmod(0o555 if path.is_dir() else 0o444)
        try:
            yield
        finally:
            path.chmod(mode)
        return
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot make {path} read-only as root here: {made.stderr.strip()}")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 5, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    return result.stderr


def test_corrupt_database(db_path: Path) -> None:
    assert run_cli("analyze", "--source", "demo", "A.NS", "B.NS").returncode == 0
    data = bytearray(db_path.read_bytes())
    data[100:4096] = b"\xff" * (4096 - 100)  # the schema page, past the 100-byte header
    db_path.write_bytes(bytes(data))
    before = files(db_path)
    for args in (("analyze", "--source", "demo", "A.NS"), ("jobs", "list"), ("db", "check")):
        line = error_line(run_cli(*args))
        assert line.startswith(f"Error: {db_path}: ") and "corrupt" in line
        assert files(db_path) == before


def test_read_only_database_file(db_path: Path) -> None:
    assert run_cli("analyze", "--source", "demo", "A.NS").returncode == 0
    before = files(db_path)
    with read_only(db_path):
        line = error_line(run_cli("analyze", "--source", "demo", "B.NS"))
        assert line == f"Error: {db_path}: database is read-only\n"
        listed = run_cli("jobs", "list", "--json")  # reading still works
        assert listed.returncode == 0, listed.stderr
    assert files(db_path) == before


def test_read_only_directory(db_path: Path) -> None:
    assert run_cli("analyze", "--source", "demo", "A.NS").returncode == 0
    assert not Path(f"{db_path}-wal").exists()  # the last connection checkpointed it away
    before = files(db_path)
    with read_only(db_path.parent):
        line = error_line(run_cli("analyze", "--source", "demo", "B.NS"))
        assert line.startswith(f"Error: {db_path}") or line.startswith("Error: cannot")
        assert str(db_path.parent) in line
    assert files(db_path) == before


def test_missing_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "scan.db"
    line = error_line(run_cli("analyze", "--source", "demo", "A.NS", "--db", str(missing)))
    assert str(missing) in line and "directory does not exist" in line
    assert not missing.parent.exists()


def test_locked_past_the_timeout(db_path: Path) -> None:
    assert run_cli("db", "migrate").returncode == 0
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        began = time.monotonic()
        line = error_line(run_cli("analyze", "--source", "demo", "A.NS"))
        waited = time.monotonic() - began
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert line == (f"Error: {db_path}: database is locked by another process (waited 5 s)\n")
    assert waited >= 5
    assert run_cli("analyze", "--source", "demo", "A.NS").returncode == 0


def test_disk_full_mid_job_then_resumable(db_path: Path) -> None:
    tickers = [f"F{i:03d}.NS" for i in range(200)]
    full = harness(
        "analyze", "--source", "demo", *tickers,
        config={"source": {}, "max_page_count": 60},
    )  # fmt: skip
    line = error_line(full)
    assert line == f"Error: {db_path}: disk or database is full\n"
    oracle(db_path)
    done = sqlite3.connect(db_path).execute("SELECT count(*) FROM analysis_results").fetchone()[0]
    assert 0 < done < len(tickers)
    resumed = harness("analyze", "--source", "demo", *tickers, config={"source": {}})
    assert resumed.returncode == 0, resumed.stderr
    assert resumed.stdout.startswith(f"Resuming job 1: {len(tickers) - done} of {len(tickers)}")
    oracle(db_path)


def test_not_a_database(tmp_path: Path) -> None:
    junk = tmp_path / "photo.jpg"
    junk.write_bytes(os.urandom(8192))
    before = junk.read_bytes()
    line = error_line(run_cli("jobs", "list", "--db", str(junk)))
    assert line == f"Error: {junk}: file is not a SQLite database\n"
    assert junk.read_bytes() == before
