"""Fixtures for every test: a database in tmp_path, a fake home, and no network.

Modelled on simonw/llm: an autouse fixture points the app's paths at tmp_path, so no test can
touch the real home directory; network access fails loudly, in this process (socket guard) and
in subprocesses (a dead proxy that libcurl and requests both honour).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import sqlite3
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from stockscan.db import Connection

DEAD_PROXY = "http://127.0.0.1:9"


class NetworkBlocked(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path / "home"
    home.mkdir()
    db = tmp_path / "stockscan.db"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("STOCKSCAN_DB", str(db))
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(var, DEAD_PROXY)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("FORCE_COLOR", raising=False)

    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: Any) -> Any:
        if self.family == socket.AF_UNIX:
            return real_connect(self, address)
        raise NetworkBlocked(f"test tried to open a network connection to {address!r}")

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    yield db


@pytest.fixture
def db_path(isolated: Path) -> Path:
    return isolated


@pytest.fixture
def conn(db_path: Path) -> Iterator[Connection]:
    from stockscan import store

    connection = store.open(db_path)
    yield connection
    connection.close()


def run_cli(
    *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run stockscan as a real process (exit codes, signals, locks, no terminal)."""
    return subprocess.run(
        [sys.executable, "-m", "stockscan", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


@contextmanager
def tmpfs(where: Path, size: str) -> Iterator[Path]:
    """A real small file system (tmpfs of ``size``, e.g. ``64k``, ``20m``) mounted on the new
    folder ``where`` for a test of a full disk, unmounted afterwards. Mounting needs root (or
    CAP_SYS_ADMIN): elsewhere the test is skipped, saying so."""
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def oracle(db: Path, *, dead_owners: bool = False, runs: Sequence[tuple[int, str]] = ()) -> None:
    """The invariants that hold after any command, crash or prune (docs/architecture.md).

    Called once the processes that ran on ``db`` have exited. ``dead_owners``: a job may be left
    ``running`` under a dead owner (one died of SIGKILL, which nothing can clean up after; the
    next run adopts it); otherwise every ``running`` job must have a live owner. ``runs``: (exit
    code, stdout) of every process that ran a job on ``db``, to check that each job had one
    owner at a time.
    """
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        if not conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'analysis_jobs'").fetchone():
            return  # the schema itself was never committed: nothing else to hold
        assert (
            conn.execute(
                "SELECT ticker, analysis_date FROM analysis_results"
                " GROUP BY ticker, analysis_date HAVING count(*) > 1"
            ).fetchall()
            == []
        )
        # no result without its raw data
        assert (
            conn.execute(
                "SELECT r.id FROM analysis_results r"
                " LEFT JOIN analysis_raw_data d ON d.result_id = r.id WHERE d.id IS NULL"
            ).fetchall()
            == []
        )
        # no result without its indicator row (m006: written in the result's transaction)
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'result_indicators'").fetchone():
            assert (
                conn.execute(
                    "SELECT r.id FROM analysis_results r WHERE NOT EXISTS"
                    " (SELECT 1 FROM result_indicators i WHERE i.result_id = r.id)"
                ).fetchall()
                == []
            )
        # every succeeded detail points at a result, and only succeeded details do
        assert (
            conn.execute(
                "SELECT id FROM analysis_jobs_details WHERE (status = 'succeeded')"
                " <> (result_id IS NOT NULL)"
            ).fetchall()
            == []
        )
        # a terminal job has only terminal details
        assert (
            conn.execute(
                "SELECT d.id FROM analysis_jobs_details d JOIN analysis_jobs j ON j.id = d.job_id"
                " WHERE j.status IN ('succeeded', 'partial', 'failed')"
                " AND d.status IN ('pending', 'running')"
            ).fetchall()
            == []
        )
        # the price cache: every fetch record has bars, its newest_date the newest of them, and
        # no bar is without its fetch record (they are written in one transaction)
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'price_fetches'").fetchone():
            assert (
                conn.execute(
                    "SELECT f.ticker FROM price_fetches f WHERE f.newest_date IS NOT"
                    " (SELECT max(b.market_date) FROM price_bars b WHERE b.source = f.source"
                    "  AND b.ticker = f.ticker AND b.auto_adjust = f.auto_adjust)"
                    " UNION ALL SELECT b.ticker FROM price_bars b WHERE NOT EXISTS"
                    " (SELECT 1 FROM price_fetches f WHERE f.source = b.source"
                    "  AND f.ticker = b.ticker AND f.auto_adjust = b.auto_adjust)"
                ).fetchall()
                == []
            )
        # the job's counts equal its details
        assert (
            conn.execute(
                "SELECT j.id FROM analysis_jobs j WHERE"
                " j.succeeded <> (SELECT count(*) FROM analysis_jobs_details d"
                "   WHERE d.job_id = j.id AND d.status = 'succeeded') OR"
                " j.failed <> (SELECT count(*) FROM analysis_jobs_details d"
                "   WHERE d.job_id = j.id AND d.status = 'failed') OR"
                " j.skipped <> (SELECT count(*) FROM analysis_jobs_details d"
                "   WHERE d.job_id = j.id AND d.status = 'skipped')"
            ).fetchall()
            == []
        )
        # results' dates are market dates that have happened: never after today anywhere on
        # Earth (UTC+14), nor after the newest cached bar of their source and ticker
        latest_day = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=14)).date().isoformat()
        assert (
            conn.execute(
                "SELECT ticker, analysis_date FROM analysis_results WHERE analysis_date > ?",
                (latest_day,),
            ).fetchall()
            == []
        )
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'price_bars'").fetchone():
            assert (
                conn.execute(
                    "SELECT r.ticker, r.analysis_date FROM analysis_results r"
                    " WHERE r.status = 'complete' AND r.analysis_date >"
                    " (SELECT max(b.market_date) FROM price_bars b"
                    "  WHERE b.source = r.analysis_source AND b.ticker = r.ticker)"
                ).fetchall()
                == []
            )
        # no job is running whose owner is dead, unless a kill -9 left it so
        running = conn.execute("SELECT id FROM analysis_jobs WHERE status = 'running'").fetchall()
        if not dead_owners:
            from stockscan.locks import owner_alive

            assert [job for (job,) in running if not owner_alive(db, job)] == []
        # one owner per job at a time: every process that worked on a job took it over (an
        # attempt) from a dead owner or created it, and only one of them can have finished it
        if runs:
            claims: dict[int, list[int]] = {}
            for code, out in runs:
                job = claimed_job(out)
                if job is not None:
                    claims.setdefault(job, []).append(code)
            for job, codes in claims.items():
                attempts = conn.execute(
                    "SELECT attempts FROM analysis_jobs WHERE id = ?", (job,)
                ).fetchone()[0]
                assert attempts == len(codes), (job, attempts, codes)
                assert sum(code in (0, 1, 4) for code in codes) <= 1, (job, codes)
    finally:
        conn.close()


def claimed_job(out: str) -> int | None:
    """The job a run says it worked on ("Started job N" / "Resuming job N"), else None."""
    first = out.split("\n", 1)[0]
    if first.startswith(("Started job ", "Resuming job ")):
        return int(first.split()[2].rstrip(":"))
    return None
