"""Migrations are all or nothing, and never fill the disk: a database of the first release,
opened by a read command, on a disk too small for its migration and then on one big enough."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from stockscan import migrations
from tests.conftest import oracle, tmpfs
from tests.first_release import build_first_release
from tests.reliability.conftest import harness

STOCKSCAN = str(Path(sys.executable).parent / "stockscan")
ALL = [name for name, _ in migrations.MIGRATIONS]
TABLES = ("analysis_jobs", "analysis_jobs_details", "analysis_results", "analysis_raw_data",
          "watchlist")  # fmt: skip


def cli(*args: str, db: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STOCKSCAN, *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "STOCKSCAN_DB": str(db)},
        stdin=subprocess.DEVNULL,
    )


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 20 MB file system (tmpfs), unmounted afterwards."""
    with tmpfs(tmp_path / "disk", "20m") as where:
        yield where


def contents(db: Path) -> dict[str, list[tuple[object, ...]]]:
    conn = sqlite3.connect(db)
    try:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in TABLES}
    finally:
        conn.close()


def applied(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return [r[0] for r in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]
    finally:
        conn.close()


def test_a_migration_refuses_before_its_first_write_when_the_disk_is_too_small(
    tmp_path: Path, small_disk: Path
) -> None:
    built = build_first_release(tmp_path / "first.db", jobs=12)
    size = built.stat().st_size
    assert 9e6 < size < 12e6, size
    db = small_disk / "stockscan.db"
    shutil.copyfile(built, db)
    before = db.read_bytes()
    free = shutil.disk_usage(small_disk).free

    # a read command is what the user runs first after an upgrade
    refused = cli("jobs", "list", db=db)
    assert refused.returncode == 5, (refused.stdout, refused.stderr)
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert refused.stderr.startswith(
        f"Error: {db}: updating its schema ({len(ALL) - 1} pending migrations)"
    )
    needed = float(refused.stderr.split("needs about ")[1].split(" MB")[0])
    shown_free = float(refused.stderr.split("which has ")[1].split(" MB")[0])
    assert needed * 1e6 > 2.9 * size  # at least the measured peak
    assert abs(shown_free * 1e6 - free) < 0.2e6
    assert "nothing was changed" in refused.stderr
    assert db.read_bytes() == before  # byte-identical
    wal = Path(f"{db}-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    assert applied(db) == ["m001_initial"]
    # the disk is not left full: every other command can still say so
    assert shutil.disk_usage(small_disk).free > free - 1e6
    info = cli("db", "check", db=db)
    assert info.returncode == 5 and "updating its schema" in info.stderr

    # with enough space, the same command migrates everything and loses nothing
    old = contents(db)
    subprocess.run(["mount", "-o", "remount,size=60m", str(small_disk)], check=True)
    listed = cli("jobs", "list", db=db)
    assert listed.returncode == 0, listed.stderr
    assert applied(db) == ALL
    new = contents(db)
    for table in TABLES:
        assert [row[: len(o)] for row, o in zip(new[table], old[table], strict=True)] == old[table]
    assert not wal.exists() or wal.stat().st_size == 0  # the log's space was given back
    oracle(db)


def test_pending_migrations_are_one_unit_a_failure_in_the_last_undoes_them_all(
    tmp_path: Path,
) -> None:
    """The first release's database has three migrations pending; the last one fails (after
    doing its work): m003's rebuild and m004 are rolled back with it."""
    db = build_first_release(tmp_path / "first.db", jobs=2, per_job=20)
    before = db.read_bytes()
    old = contents(db)
    failed = harness("jobs", "list", config={"migration_fails": ALL[-1]}, db=db)
    assert failed.returncode == 5, failed.stderr
    assert failed.stderr.count("\n") == 1 and "Traceback" not in failed.stderr
    assert "no such table: harness_injected_failure" in failed.stderr
    assert applied(db) == ["m001_initial"]
    assert db.read_bytes() == before
    conn = sqlite3.connect(db)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(analysis_results)")]
    conn.close()
    assert "legacy_result_id" not in columns  # m003's rebuild is undone
    assert contents(db) == old
    # the next run, without the fault, applies all of them
    assert cli("jobs", "list", db=db).returncode == 0
    assert applied(db) == ALL
    oracle(db)
