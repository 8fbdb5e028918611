"""Run the real stockscan command line with test hooks installed from the environment.

    python -m tests.reliability.harness analyze --source demo T0001.NS ...

``STOCKSCAN_HARNESS`` holds JSON saying what to do to this one process:

- ``"source"``: replace every price source by ``tests.fakes.FakeSource`` (deterministic bars
  per ticker, named ``demo``) that can fail on chosen calls: ``{"fail": {"T.NS": "no_data"},
  "bad": ["T.NS"], "unavailable_at": 3, "hang_at": 2, "fail_at": 4, "delay_s": 0.2,
  "messages": {"T.NS": "…"}}`` (calls are counted from 1 in this process; ``delay_s``: every
  call takes that long; ``messages``: the error message of a ticker in ``fail``).
- ``"yahoo"``: keep the real yahoo source (its cache, fetch-ahead pool, retries and breaker)
  but replace ``yfinance.Ticker`` by ``tests.fakes.FakeMarket``, answering ``history()`` with
  frames shaped like Yahoo's (tz-aware Asia/Kolkata index, plain columns): ``{"latency_s":
  0.05, "hang": ["T.NS"], "down": true, "rate_limited": true}`` (``hang``: every request for
  these tickers blocks for an hour; ``down``: every request raises a DNS-style ``OSError``;
  ``rate_limited``: every request raises ``YFRateLimitError``). Each request is logged to
  stderr as ``HARNESS: request T.NS``.
- ``"wire": "http://127.0.0.1:PORT"``: keep the real yfinance too; send its HTTP requests to
  the Yahoo stand-in listening there (``tests.wire.yahoo``).
- ``"crash": {"checkpoint": "written", "position": 2}``: SIGKILL this process at that named point
  of the per-stock write path (``stockscan.jobs.CHECKPOINTS``) for the stock at that position.
- ``"fault": {"on": "write" | "commit", "n": 7}``: make SQLite refuse the Nth write statement
  (INSERT, UPDATE, DELETE) or the Nth COMMIT this process prepares, as an I/O fault would.
- ``"max_page_count": N``: cap the database at N pages, so writes fail with SQLITE_FULL.
- ``"no_o_tmpfile": true``: run as on a system without ``os.O_TMPFILE`` (not Linux, or a file
  system that lacks it), so output files are written through a named temporary file.
- ``"migration_fails": "m005_price_cache"``: that migration runs, then fails with a real
  SQLite error (a statement on a table that does not exist), as a bug in it would.

Nothing here is part of stockscan: the hooks go in at the boundaries the code already has (the
source factory, the connection factory, the checkpoint function), and the command line, the job
loop and the SQL are the real ones.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import types
from typing import Any


def install(config: dict[str, Any]) -> None:
    import stockscan.db
    import stockscan.jobs
    import stockscan.sources

    if "source" in config:
        from tests.fakes import FakeSource

        fake = FakeSource.from_config(config["source"])
        stockscan.sources.get_source = lambda name, data_dir=None, **_: fake  # type: ignore[assignment]

    if "wire" in config:  # the real yfinance, its requests answered by tests/wire/yahoo.py
        from tests.wire.yahoo import install_client

        install_client(config["wire"])

    if "yahoo" in config:
        import yfinance

        from tests.fakes import FakeMarket

        yfinance.Ticker = FakeMarket.from_config(config["yahoo"])

    crash = config.get("crash")
    if crash:

        def checkpoint(name: str, position: int) -> None:
            if name == crash["checkpoint"] and position == crash["position"]:
                os.kill(os.getpid(), getattr(signal, crash.get("signal", "SIGKILL")))

        stockscan.jobs.checkpoint = checkpoint  # type: ignore[assignment]

    if config.get("no_o_tmpfile") and hasattr(os, "O_TMPFILE"):
        del os.O_TMPFILE

    failing = config.get("migration_fails")
    if failing:
        import stockscan.migrations

        def fail_after(migration: Any) -> Any:
            def failing_migration(conn: sqlite3.Connection) -> None:
                migration(conn)
                conn.execute("INSERT INTO harness_injected_failure VALUES (1)")

            return failing_migration

        stockscan.migrations.MIGRATIONS[:] = [
            (name, fail_after(fn) if name == failing else fn)
            for name, fn in stockscan.migrations.MIGRATIONS
        ]

    fault = config.get("fault")
    pages = config.get("max_page_count")
    if fault or pages:
        real_connect = sqlite3.connect
        counter = {"n": 0}
        last = {"action": None}
        writes = {sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE}

        def authorizer(action: int, arg1: Any, arg2: Any, db: Any, trigger: Any) -> int:
            # SQLite asks once per column an UPDATE assigns: count a run of the same write
            # action as one write, so that N steps through statements, not columns.
            if fault["on"] == "write":
                hit = action in writes and trigger is None and last["action"] != action
            else:
                hit = action == sqlite3.SQLITE_TRANSACTION and arg1 == "COMMIT"
            last["action"] = action
            if hit:
                counter["n"] += 1
                if counter["n"] == fault["n"]:
                    return sqlite3.SQLITE_DENY
            return sqlite3.SQLITE_OK

        def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            # No statement cache: the authorizer runs when a statement is prepared, so every
            # execution must prepare for the count to be of executions.
            conn = real_connect(*args, **{**kwargs, "cached_statements": 0})
            if pages:
                conn.execute(f"PRAGMA max_page_count = {int(pages)}")
            if fault:
                conn.set_authorizer(authorizer)
            return conn

        shim = types.SimpleNamespace(**{k: getattr(sqlite3, k) for k in dir(sqlite3)})
        shim.connect = connect
        stockscan.db.sqlite3 = shim  # type: ignore[assignment]


def main() -> None:
    install(json.loads(os.environ.get("STOCKSCAN_HARNESS", "{}")))
    from stockscan.cli import main as stockscan_main

    sys.argv[0] = "stockscan"
    stockscan_main()


if __name__ == "__main__":
    main()
