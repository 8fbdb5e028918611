"""Results at scale (issue 7): query times and storage at 10,000 to 1,000,000 results, against
the old three-table design.

Fills a fresh database per size through stockscan's own store functions (one job per market
date, 2,000 tickers x N/2,000 dates, raw data from real analyses), then times, in-process and
as whole `stockscan` processes (against a bare Typer app started in the same run):

- latest for one ticker (target <= 1 ms in-process), for a 500-ticker watchlist (<= 10 ms),
  for every ticker; a ticker's history of up to 500 rows (<= 5 ms) and of the default 30;
- growth from the smallest to the largest size (<= 2x for each query: nothing scans);
- storage per result with raw data (<= 8 KB), without it and the screens' indicator table
  (<= 400 bytes), and that table's own (<= 256 bytes);
- `results latest --json` as a process (<= 120 ms above bare Typer), one ticker's latest and
  `watchlist list` (<= 40 ms above it; skipped when that command does not exist yet);
- screens (issue 19): `SCREEN`, a three-clause --where over the newest result of every
  ticker, compiled and run in process (<= 10 ms) and as `results latest --where … --json`
  (<= 60 ms above bare Typer);
- the same queries on the old design (raw JSON inline, no job link, no index; 20 KB of raw
  JSON per row) at 10,000 and 20,000 results, and the ratio.

Prints one JSON object. CI runs `--sizes 10000`; the 1,000,000 run takes several minutes and
about 7 GB of temporary disk.

Usage: python bench/scale.py [--sizes 10000,100000,1000000] [--old-sizes 10000,20000]
                             [--runs 7] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from stockscan import store
from stockscan.analysis import analyze
from stockscan.analysis.model import Analysis
from stockscan.db import transaction
from stockscan.screens import compile_where
from stockscan.sources.demo import demo_bars

sys.path.insert(0, str(Path(__file__).resolve().parent))

from old_design import OLD_SCHEMA  # noqa: E402

TICKERS = 2000
WATCHLIST = 500
LAST_DATE = np.datetime64("2026-11-27", "D")
POOL = 250  # distinct real analyses, rotated over tickers and dates
OLD_RAW_BYTES = 20_000

TARGETS = {
    "latest_one_ticker_ms": 1.0,
    "latest_watchlist_500_ms": 10.0,
    "history_500_ms": 5.0,
    "growth_max": 2.0,
    "bytes_per_result_with_raw": 8192,
    "bytes_per_result_without_raw": 400,  # everything but the raw data and the screens' table
    # Screens (issue 19) make a result's 20 indicator values queryable columns of their own
    # table: 20 REALs are 160 bytes of values, plus the record header and the b-tree cell.
    "indicator_bytes_per_result": 256,
    "process_latest_json_over_bare_ms": 120.0,
    "process_latest_one_ticker_over_bare_ms": 40.0,
    "process_watchlist_list_over_bare_ms": 40.0,
    # Screens (issue 19): a three-clause --where over the newest result of every ticker.
    "screen_where_ms": 10.0,
    "process_screen_over_bare_ms": 60.0,
}
SCREEN = "close > sma_200 and rsi_14 < 60 and volume_ratio_20 > 0.8"

BARE_TYPER = """\
import typer

app = typer.Typer()


@app.command()
def main() -> None:
    print("[]")


app()
"""
# Not the targets' baseline, only to tell Typer's own cost of parsing options (it builds a
# pydantic adapter per parameter) from stockscan's: the same app with the options of
# `results latest`.
BARE_TYPER_WITH_OPTIONS = """\
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer()


@app.command()
def main(
    tickers: Annotated[list[str] | None, typer.Argument()] = None,
    verdict: Annotated[list[str] | None, typer.Option()] = None,
    min_score: Annotated[float | None, typer.Option()] = None,
    source: Annotated[str | None, typer.Option()] = None,
    date: Annotated[str | None, typer.Option()] = None,
    json_output: Annotated[bool, typer.Option("--json")] = False,
    csv_output: Annotated[bool, typer.Option("--csv")] = False,
    db: Annotated[Path | None, typer.Option()] = None,
) -> None:
    print("[]")


app()
"""


def tickers() -> list[str]:
    return [f"T{i:04d}.NS" for i in range(TICKERS)]


def market_dates(count: int) -> list[str]:
    dates: list[str] = []
    day = dt.date.fromisoformat(str(LAST_DATE))
    while len(dates) < count:
        if day.weekday() < 5:
            dates.append(day.isoformat())
        day -= dt.timedelta(days=1)
    return dates[::-1]


def analysis_pool() -> list[tuple[Analysis, str]]:
    """Real analyses of real-looking prices, with their raw payloads as the job loop writes
    them (stockscan.jobs)."""
    pool = []
    for i in range(POOL):
        analysis = analyze(demo_bars(f"POOL{i}.NS", LAST_DATE))
        pool.append((analysis, json.dumps(analysis.raw, separators=(",", ":"), allow_nan=False)))
    return pool


# --- filling -------------------------------------------------------------------------------


def fill(path: Path, size: int, pool: list[tuple[Analysis, str]]) -> dict[str, Any]:
    """``size`` results through store.create_job / save_result / finish_job: one job per
    market date over every ticker, each job in one transaction."""
    names = tickers()
    dates = market_dates(size // TICKERS)
    conn = store.open(path)
    # A throwaway database: no need to survive a power cut while filling it.
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")
    start = time.perf_counter()
    with transaction(conn):
        # The watchlist the "500-ticker watchlist" queries use, linked by the job loop.
        store.add_to_watchlist(conn, [(ticker, None) for ticker in names[:: TICKERS // WATCHLIST]])
    for day_index, day in enumerate(dates):
        market_date = dt.date.fromisoformat(day)
        with transaction(conn):
            job_id = store.create_job(
                conn,
                request_key=f"bench-{day}",
                source="yahoo",
                params={"capital": 100000.0, "risk_pct": 1.0, "data_dir": None},
                run_date=day,
                tickers=names,
                owner_pid=os.getpid(),
                owner_host="bench",
            )
            for position, stock in enumerate(store.unfinished_stocks(conn, job_id)):
                detail_id, ticker = stock[0], stock[1]
                analysis, payload = pool[(position * 7 + day_index * 13) % len(pool)]
                store.save_result(
                    conn,
                    job_id=job_id,
                    detail_id=detail_id,
                    ticker=ticker,
                    source="yahoo",
                    analysis=dataclasses.replace(analysis, analysis_date=market_date),
                    raw_payload=payload,
                    quantity=10,
                )
            store.finish_job(conn, job_id)
    seconds = time.perf_counter() - start
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    # Write back the gigabytes just written now, not while the queries are being timed.
    os.sync()
    return {"fill_seconds": round(seconds, 1), "results_per_second": round(size / seconds)}


def storage(path: Path, size: int) -> dict[str, Any]:
    conn = sqlite3.connect(path)
    try:
        owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master").fetchall())
        by_table: dict[str, int] = {}
        for name, pages_bytes in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"):
            table = owner.get(name, name)
            by_table[table] = by_table.get(table, 0) + int(pages_bytes)
    finally:
        conn.close()
    total = path.stat().st_size
    raw = by_table.get("analysis_raw_data", 0)
    indicators = by_table.get("result_indicators", 0)
    return {
        "file_bytes": total,
        "bytes_per_result_with_raw": round(total / size),
        "bytes_per_result_without_raw": round((total - raw - indicators) / size),
        "indicator_bytes_per_result": round(indicators / size),
        "results_table_bytes_per_result": round(by_table.get("analysis_results", 0) / size),
        "bytes_by_table": by_table,
    }


# --- timing --------------------------------------------------------------------------------


def timed(fn: Callable[[], object], repeat: int) -> dict[str, float]:
    fn()  # warm the page cache and the statement cache
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return {"median_ms": round(statistics.median(samples), 3), "min_ms": round(min(samples), 3)}


def in_process(path: Path) -> dict[str, Any]:
    conn = store.open(path, create=False)
    names = tickers()
    watchlist = names[:: TICKERS // WATCHLIST]
    rng = random.Random(7)
    try:
        # Filling streamed gigabytes of raw data through the OS page cache; a database in use
        # has its results table and indexes there (every read command touches them), and
        # these queries never read the raw data. Read them once, as use would.
        conn.execute("SELECT sum(score) FROM analysis_results").fetchone()
        conn.execute(
            "SELECT count(analysis_date) FROM analysis_results"
            " INDEXED BY idx_results_ticker_date WHERE ticker > ''"
        ).fetchone()
        history_rows = len(store.result_history(conn, names[0], limit=500))
        return {
            "latest_one_ticker": timed(
                lambda: store.latest_results(conn, [rng.choice(names)]), 500
            ),
            "latest_watchlist_500": timed(lambda: store.latest_results(conn, watchlist), 50),
            "latest_all_tickers": timed(lambda: store.latest_results(conn), 20),
            "history_500": {
                **timed(lambda: store.result_history(conn, rng.choice(names), limit=500), 100),
                "rows": history_rows,
            },
            # The same number of rows at every size (a ticker has 5 results at 10,000): the
            # one history figure whose growth says whether the query scans.
            "history_5": timed(lambda: store.result_history(conn, rng.choice(names), limit=5), 200),
            "history_30": timed(
                lambda: store.result_history(conn, rng.choice(names), limit=30), 200
            ),
            "show_one": timed(lambda: store.find_result(conn, rng.choice(names)), 200),
            # compiled each time, as a command does: parse, check, then the query
            "screen_where": {**timed(lambda: screened(conn), 20), "rows": len(screened(conn))},
        }
    finally:
        conn.close()


def screened(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    compiled = compile_where(SCREEN)
    return store.latest_results(conn, where=(compiled.sql, compiled.params))


def process_samples(
    commands: dict[str, list[str]], env: dict[str, str], runs: int
) -> dict[str, list[float] | None]:
    """Wall times of each command as a whole process, ``runs`` rounds. The commands take
    turns within a round, so that background noise falls on all of them alike; a first round
    only warms the page cache and the bytecode cache. None for a command that does not exist
    (yet)."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    missing: set[str] = set()
    for round_index in range(runs + 1):
        for name, args in commands.items():
            if name in missing:
                continue
            start = time.perf_counter()
            result = subprocess.run(args, env=env, capture_output=True, text=True)
            elapsed = (time.perf_counter() - start) * 1000
            if result.returncode != 0:
                if "No such command" in result.stderr:
                    missing.add(name)
                    continue
                raise SystemExit(f"{' '.join(args)} failed ({result.returncode}): {result.stderr}")
            if round_index:
                samples[name].append(elapsed)
    return {name: None if name in missing else values for name, values in samples.items()}


def whole_process(path: Path, workdir: Path, runs: int) -> dict[str, Any]:
    bare = workdir / "bare_typer.py"
    bare.write_text(BARE_TYPER)
    bare_options = workdir / "bare_typer_with_options.py"
    bare_options.write_text(BARE_TYPER_WITH_OPTIONS)
    # Bytecode cached as an installed package has it (pip compiles it on install), in a
    # directory of our own: an environment with PYTHONDONTWRITEBYTECODE would otherwise
    # recompile stockscan on every start while Typer's own bytecode is cached.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(STOCKSCAN_DB=str(path), PYTHONPYCACHEPREFIX=str(workdir / "pycache"))
    stockscan = [sys.executable, "-m", "stockscan"]
    one_ticker = [*stockscan, "results", "latest", "T0042.NS", "--json"]
    samples = process_samples(
        {
            "bare_typer": [sys.executable, str(bare)],
            "bare_typer_with_options": [sys.executable, str(bare_options), "T0042.NS", "--json"],
            "results_latest_json": [*stockscan, "results", "latest", "--json"],
            "results_latest_one_ticker_json": one_ticker,
            "watchlist_list_json": [*stockscan, "watchlist", "list", "--json"],
            "results_latest_where_json": [
                *stockscan,
                "results",
                "latest",
                "--where",
                SCREEN,
                "--json",
            ],
        },
        env,
        runs,
    )
    bare_samples = samples["bare_typer"]
    assert bare_samples is not None
    # Each command against the bare app of the same round, then the median of those
    # differences: steadier than a difference of medians when the machine is busy.
    return {
        "median_ms": {
            name: None if values is None else round(statistics.median(values), 1)
            for name, values in samples.items()
        },
        "over_bare_typer_ms": {
            name: None
            if values is None
            else round(
                statistics.median(a - b for a, b in zip(values, bare_samples, strict=True)), 1
            )
            for name, values in samples.items()
            if name != "bare_typer"
        },
    }


# --- the old design ------------------------------------------------------------------------

OLD_LATEST_ONE = "SELECT * FROM analysis_results WHERE symbol = ? ORDER BY created_at DESC LIMIT 1"
# "Multiple LEFT JOINs, O(n^2)": each followed symbol joined to its rows, keeping the row
# no newer row of that symbol beats.
OLD_WATCHLIST = (
    "SELECT w.symbol, r.* FROM watchlist AS w"
    " LEFT JOIN analysis_results AS r ON r.symbol = w.symbol"
    " LEFT JOIN analysis_results AS newer ON newer.symbol = r.symbol"
    " AND newer.created_at > r.created_at"
    " WHERE newer.id IS NULL"
)
OLD_HISTORY = "SELECT * FROM analysis_results WHERE symbol = ? ORDER BY created_at DESC"


def old_raw(pool: list[tuple[Analysis, str]], i: int) -> str:
    """About 20 KB of JSON: the whole indicator arrays, as the old system stored them."""
    raw = json.loads(pool[i % len(pool)][1])
    series = raw["window"]
    rows = max(1, OLD_RAW_BYTES // len(json.dumps(series)))
    raw["window"] = {k: v * rows for k, v in series.items()}
    return json.dumps(raw)


def old_design(workdir: Path, size: int, pool: list[tuple[Analysis, str]]) -> dict[str, Any]:
    path = workdir / f"old-{size}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(OLD_SCHEMA)
    names = tickers()
    dates = market_dates(size // TICKERS)
    payloads = [old_raw(pool, i) for i in range(20)]
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO watchlist (symbol, name, created_at) VALUES (?, ?, ?)",
        [(t.removesuffix(".NS"), t, "2026-01-01") for t in names[:: TICKERS // WATCHLIST]],
    )
    rows = []
    for d, day in enumerate(dates):
        for i, ticker in enumerate(names):
            analysis = pool[(i * 7 + d * 13) % len(pool)][0]
            created = f"{day}T10:00:00"
            rows.append((ticker, ticker.removesuffix(".NS"), analysis.score, analysis.verdict,
                         analysis.plan.entry, analysis.plan.stop, analysis.plan.target,
                         payloads[(i + d) % len(payloads)], created, created))  # fmt: skip
    # Source and status NULL, as the old system left them.
    conn.executemany(
        "INSERT INTO analysis_results (ticker, symbol, score, verdict, entry, stop, target,"
        " raw_data, analysis_source, status, created_at, updated_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?)",
        rows,
    )
    conn.execute("COMMIT")
    rng = random.Random(7)
    symbols = [t.removesuffix(".NS") for t in names]
    try:
        timings = {
            "latest_one_ticker": timed(
                lambda: conn.execute(OLD_LATEST_ONE, (rng.choice(symbols),)).fetchall(), 5
            ),
            "latest_watchlist_500": timed(lambda: conn.execute(OLD_WATCHLIST).fetchall(), 3),
            "history_one_ticker": timed(
                lambda: conn.execute(OLD_HISTORY, (rng.choice(symbols),)).fetchall(), 5
            ),
        }
    finally:
        conn.close()
    file_bytes = path.stat().st_size
    path.unlink()
    return {
        "results": size,
        "raw_json_bytes_per_row": len(payloads[0]),
        "bytes_per_result": round(file_bytes / size),
        **timings,
    }


# --- the run -------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--old-sizes", default="10000,20000")
    parser.add_argument("--runs", type=int, default=7, help="whole-process runs per command")
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temp dir")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",") if s]
    old_sizes = [int(s) for s in args.old_sizes.split(",") if s]
    if any(size % TICKERS or size < TICKERS for size in sizes + old_sizes):
        raise SystemExit(f"every size must be a multiple of {TICKERS}")

    workdir = Path(tempfile.mkdtemp(prefix="stockscan-scale-", dir=args.workdir))
    report: dict[str, Any] = {
        "benchmark": "results at scale: in-process and whole-process query times, storage",
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "tickers": TICKERS,
        "process_bytecode": "cached, as in an installed package",
        "targets": TARGETS,
        "sizes": {},
    }
    try:
        pool = analysis_pool()
        for size in sizes:
            path = workdir / f"scale-{size}.db"
            entry: dict[str, Any] = {"results": size, "market_dates": size // TICKERS}
            entry.update(fill(path, size, pool))
            entry["storage"] = storage(path, size)
            entry["in_process"] = in_process(path)
            entry["process"] = whole_process(path, workdir, args.runs)
            report["sizes"][str(size)] = entry
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
            shutil.rmtree(f"{path}.locks", ignore_errors=True)
            print(f"done: {size} results", file=sys.stderr)
        report["old_design"] = {str(size): old_design(workdir, size, pool) for size in old_sizes}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    report["comparison"] = compare(report)
    print(json.dumps(report, indent=2))


def compare(report: dict[str, Any]) -> dict[str, Any]:
    sizes = report["sizes"]
    smallest, largest = sizes[min(sizes, key=int)], sizes[max(sizes, key=int)]
    queries = ("latest_one_ticker", "latest_watchlist_500", "latest_all_tickers", "history_5",
               "show_one", "screen_where")  # fmt: skip

    def ms(entry: dict[str, Any], query: str, statistic: str = "median_ms") -> float:
        return float(entry["in_process"][query][statistic])

    result: dict[str, Any] = {
        # From the fastest of the repeated runs: the query's own cost, which is what says
        # whether it scans, free of the noise other processes make on a shared machine.
        "growth_smallest_to_largest": {
            "from": smallest["results"],
            "to": largest["results"],
            "statistic": "min_ms",
            **{q: round(ms(largest, q, "min_ms") / ms(smallest, q, "min_ms"), 2) for q in queries},
        },
        "growth_of_medians": {q: round(ms(largest, q) / ms(smallest, q), 2) for q in queries},
    }
    old = report.get("old_design", {})
    if old:
        ours = {str(size): entry for size, entry in sizes.items()}
        ratios: dict[str, Any] = {}
        for size, old_entry in old.items():
            reference = ours.get(size, smallest)
            ratios[size] = {
                "compared_with_our_size": reference["results"],
                **{
                    q: round(old_entry[q]["median_ms"] / ms(reference, q), 1)
                    for q in ("latest_one_ticker", "latest_watchlist_500")
                },
                "history_one_ticker": round(
                    old_entry["history_one_ticker"]["median_ms"] / ms(reference, "history_500"), 1
                ),
            }
        result["old_over_new"] = ratios
    checks = {
        "latest_one_ticker_ms": ms(largest, "latest_one_ticker") <= TARGETS["latest_one_ticker_ms"],
        "latest_watchlist_500_ms": ms(largest, "latest_watchlist_500")
        <= TARGETS["latest_watchlist_500_ms"],
        "history_500_ms": ms(largest, "history_500") <= TARGETS["history_500_ms"],
        "screen_where_ms": ms(largest, "screen_where") <= TARGETS["screen_where_ms"],
        "growth": all(
            ratio <= TARGETS["growth_max"]
            for name, ratio in result["growth_smallest_to_largest"].items()
            if name not in ("from", "to", "statistic")
        ),
        "bytes_per_result_with_raw": largest["storage"]["bytes_per_result_with_raw"]
        <= TARGETS["bytes_per_result_with_raw"],
        "bytes_per_result_without_raw": largest["storage"]["bytes_per_result_without_raw"]
        <= TARGETS["bytes_per_result_without_raw"],
        "indicator_bytes_per_result": largest["storage"]["indicator_bytes_per_result"]
        <= TARGETS["indicator_bytes_per_result"],
    }
    over = largest["process"]["over_bare_typer_ms"]
    for name, target in (
        ("results_latest_json", "process_latest_json_over_bare_ms"),
        ("results_latest_one_ticker_json", "process_latest_one_ticker_over_bare_ms"),
        ("watchlist_list_json", "process_watchlist_list_over_bare_ms"),
        ("results_latest_where_json", "process_screen_over_bare_ms"),
    ):
        checks[target] = None if over[name] is None else over[name] <= TARGETS[target]
    result["targets_met_at_largest_size"] = checks
    return result


if __name__ == "__main__":
    main()
