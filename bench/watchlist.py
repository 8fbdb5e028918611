"""`watchlist list` at scale (issue 6): 2,000 followed tickers over N results.

Fills a database through stockscan's own store functions (bench/scale.py's fill: one job per
market date over 2,000 tickers), follows every ticker, then times the command's reads
in-process (target <= 5 ms) and `stockscan watchlist list --json` as a whole process against
a bare Typer app started in the same run (target <= 40 ms above it).

Prints one JSON object. Usage: python bench/watchlist.py [--size 1000000] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from scale import TICKERS, analysis_pool, fill, tickers  # noqa: E402

from stockscan import store  # noqa: E402
from stockscan.db import transaction  # noqa: E402

TARGET_IN_PROCESS_MS = 5.0
TARGET_OVER_BARE_MS = 40.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    if args.size % TICKERS:
        raise SystemExit(f"--size must be a multiple of {TICKERS}")
    workdir = Path(tempfile.mkdtemp(prefix="stockscan-watchlist-"))
    try:
        path = workdir / "watchlist.db"
        filled = fill(path, args.size, analysis_pool())
        conn = store.open(path)
        with transaction(conn):
            store.add_to_watchlist(conn, [(ticker, None) for ticker in tickers()])

        def reads() -> int:
            rows = store.watchlist_rows(conn)
            store.newest_market_date(conn)
            return len(rows)

        followed = reads()  # warm the page cache, as a database in use has it
        samples = []
        for _ in range(50):
            start = time.perf_counter()
            reads()
            samples.append((time.perf_counter() - start) * 1000)
        conn.close()

        from scale import whole_process

        process = whole_process(path, workdir, args.runs)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    in_process_ms = round(statistics.median(samples), 3)
    over_bare = process["over_bare_typer_ms"]["watchlist_list_json"]
    print(
        json.dumps(
            {
                "benchmark": "watchlist list: 2,000 followed tickers",
                "results": args.size,
                "followed": followed,
                "fill_seconds": filled["fill_seconds"],
                "in_process_median_ms": in_process_ms,
                "in_process_min_ms": round(min(samples), 3),
                "process_median_ms": process["median_ms"]["watchlist_list_json"],
                "bare_typer_median_ms": process["median_ms"]["bare_typer"],
                "process_over_bare_typer_ms": over_bare,
                "targets": {
                    "in_process_ms": TARGET_IN_PROCESS_MS,
                    "process_over_bare_typer_ms": TARGET_OVER_BARE_MS,
                },
                "targets_met": {
                    "in_process_ms": in_process_ms <= TARGET_IN_PROCESS_MS,
                    "process_over_bare_typer_ms": over_bare <= TARGET_OVER_BARE_MS,
                },
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
