"""Benchmark of ``stockscan db import-legacy``: an old-design database of 100,000 result rows
with 20 KB of raw JSON each (about 2 GB), imported by the real command in a subprocess.

Run from the repository root: ``.venv/bin/python bench/legacy.py`` (``--rows``, ``--raw-kb`` and
``--small-rows`` change the sizes; the files go to a temporary directory, removed afterwards).
Prints one JSON object: old rows read per second and the peak resident memory of the import
process (``ru_maxrss`` of that child alone, from ``os.wait4``), for the full size and for a
run ten times smaller. Bounded memory means the two peaks are about the same.

The old data is what the failure analysis describes: 500 tickers, several runs on some days
(about one row in ten is an older duplicate of its ticker and day), NULL sources and statuses,
a few rows with a NULL score.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from old_design import OLD_SCHEMA  # noqa: E402

TICKERS = 500
VERDICTS = ("STRONG_BUY", "BUY", "HOLD", "SELL", "STRONG_SELL")


def build_old_db(path: Path, rows: int, raw_kb: int) -> None:
    """Deterministic old data, written as fast as SQLite allows (this is not what is timed)."""
    series = json.dumps([round(i * 0.37 % 97, 2) for i in range(raw_kb * 1024 // 6)])
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.executescript(OLD_SCHEMA)
    conn.executemany(
        "INSERT INTO watchlist (symbol, name, user_id, created_at) VALUES (?, ?, ?, ?)",
        ((f"T{n:03d}.NS", f"Company {n}", n % 3, "2024-01-01 09:00:00") for n in range(50)),
    )
    days = max(1, rows // TICKERS)
    conn.executemany(
        "INSERT INTO analysis_jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (f"job-{day}", "completed" if day % 50 else "processing", TICKERS, TICKERS, "[]",
             f"{_day(day)} 10:00:00", f"{_day(day)} 10:00:01", f"{_day(day)} 11:00:00")
            for day in range(days)
        ),
    )  # fmt: skip

    def results() -> Any:
        for i in range(rows):
            day, ticker = divmod(i, TICKERS)
            # about one row in ten is a second run of an earlier row's ticker and day
            if i % 10 == 9 and i >= TICKERS:
                day, ticker = divmod(i - 7, TICKERS)
            minute = i % 60
            raw = f'{{"row":{i},"ticker":"T{ticker:03d}.NS","series":{series}}}'
            yield (
                f"T{ticker:03d}.NS", f"T{ticker:03d}", None if i % 97 == 0 else (i * 7) % 101,
                VERDICTS[i % 5], 100.0 + ticker, 95.0 + ticker, 110.0 + ticker, raw,
                None if i % 3 == 0 else "yahoo", None if i % 2 else "completed",
                f"{_day(min(day, days - 1))} 10:{minute:02d}:00", None,
            )  # fmt: skip

    conn.executemany(
        "INSERT INTO analysis_results (ticker, symbol, score, verdict, entry, stop, target,"
        " raw_data, analysis_source, status, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        results(),
    )
    conn.commit()
    conn.close()


def _day(n: int) -> str:
    import datetime as dt

    return (dt.date(2023, 1, 2) + dt.timedelta(days=n)).isoformat()


def timed_import(old: Path, db: Path) -> dict[str, Any]:
    """Run the real command in its own process; its peak RSS alone comes from wait4."""
    env = {**os.environ, "STOCKSCAN_DB": str(db)}
    started = time.perf_counter()
    with subprocess.Popen(
        [sys.executable, "-m", "stockscan", "db", "import-legacy", str(old), "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    ) as process:
        # wait4 reaps the child itself, so read its pipes first (communicate() would wait).
        out = process.stdout.read() if process.stdout else b""
        err = process.stderr.read() if process.stderr else b""
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise SystemExit(f"import failed ({process.returncode}): {err.decode()}")
    report = json.loads(out)
    read = report["results"]["read"]
    return {
        "old_rows": read,
        "old_file_mb": round(old.stat().st_size / 2**20, 1),
        "seconds": round(seconds, 2),
        "rows_per_second": round(read / seconds),
        "mb_per_second": round(old.stat().st_size / 2**20 / seconds, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux: kilobytes
        "imported": report["results"]["imported"],
        "merged_duplicates": report["results"]["merged_duplicates"],
        "unimportable": report["results"]["unimportable"],
        "repaired": report["totals"]["repaired"],
        "old_file_unchanged": report["bytes"]["legacy_before"] == report["bytes"]["legacy_after"],
        "new_db_mb": round(report["bytes"]["database_after"] / 2**20, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small-rows", type=int, default=10_000)
    parser.add_argument("--raw-kb", type=int, default=20)
    args = parser.parse_args()
    runs = {}
    with tempfile.TemporaryDirectory(prefix="stockscan-bench-") as tmp:
        for label, rows in (("small", args.small_rows), ("full", args.rows)):
            old, db = Path(tmp, f"old-{label}.db"), Path(tmp, f"new-{label}.db")
            build_started = time.perf_counter()
            build_old_db(old, rows, args.raw_kb)
            build_seconds = time.perf_counter() - build_started
            runs[label] = {**timed_import(old, db), "build_seconds": round(build_seconds, 1)}
            old.unlink()
            db.unlink()
    print(
        json.dumps(
            {
                "benchmark": "db import-legacy",
                "raw_kb_per_row": args.raw_kb,
                **runs["full"],
                "small_run": runs["small"],
                "python": platform.python_version(),
                "sqlite": sqlite3.sqlite_version,
                "machine": platform.machine(),
                "cpus": os.cpu_count(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
