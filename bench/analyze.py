"""Whole-process throughput of `stockscan analyze --source demo` (stdout not a terminal).

Prints one JSON object. Target (issue 3): >= 300 tickers/s over 500 tickers on this machine.
Usage: python bench/analyze.py [--tickers 500] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_once(tickers: list[str], workdir: Path, index: int) -> float:
    env = {**os.environ, "STOCKSCAN_DB": str(workdir / f"bench-{index}.db")}
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "stockscan", "analyze", "--source", "demo", *tickers],
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"analyze failed ({result.returncode}): {result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    tickers = [f"DEMO{i:04d}.NS" for i in range(args.tickers)]
    with tempfile.TemporaryDirectory() as tmp:
        seconds = [run_once(tickers, Path(tmp), i) for i in range(args.runs)]
        startup = statistics.median(
            run_once(tickers[:1], Path(tmp), 100 + i) for i in range(args.runs)
        )
    median = statistics.median(seconds)
    print(
        json.dumps(
            {
                "benchmark": "analyze --source demo, whole process, new database",
                "tickers": args.tickers,
                "runs": args.runs,
                "seconds_median": round(median, 3),
                "seconds_all": [round(s, 3) for s in seconds],
                "tickers_per_second": round(args.tickers / median, 1),
                "one_ticker_process_seconds": round(startup, 3),
                "target_tickers_per_second": 300,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
