"""Helpers for the reliability battery: the harness process, snapshots of a database's facts."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def harness_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "tests.reliability.harness", *args]


def harness_env(config: dict[str, Any], db: Path | None = None) -> dict[str, str]:
    env = {**os.environ, "STOCKSCAN_HARNESS": json.dumps(config)}
    if db is not None:
        env["STOCKSCAN_DB"] = str(db)
    return env


def harness(
    *args: str, config: dict[str, Any], db: Path | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process with the given hooks."""
    return subprocess.run(
        harness_cmd(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=harness_env(config, db),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )


def start_harness(
    *args: str, config: dict[str, Any], db: Path | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        harness_cmd(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=harness_env(config, db),
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )


def facts(db: Path) -> list[tuple[Any, ...]]:
    """What a run leaves behind that must not depend on how it got there: the results."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute(
            "SELECT r.ticker, r.analysis_date, r.score, r.verdict, r.side, r.entry, r.stop,"
            " r.target, r.analysis_source, r.status, length(d.payload)"
            " FROM analysis_results r JOIN analysis_raw_data d ON d.result_id = r.id"
            " ORDER BY r.ticker"
        ).fetchall()
    finally:
        conn.close()


def one(db: Path, sql: str, *params: Any) -> Any:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchone()
    finally:
        conn.close()
