"""The yahoo source's fetch-ahead pool in real processes: Ctrl-C and SIGTERM while every download
thread is stuck in a request, and the breaker when the network is down. The real source, cache,
pool and job loop run; only ``yfinance.Ticker`` is a fake market (the harness's ``"yahoo"``)."""

from __future__ import annotations

import signal
import sqlite3
import time
from pathlib import Path

import pytest

from tests.conftest import oracle
from tests.reliability.conftest import facts, harness, one, start_harness
from tests.reliability.soak import YAHOO, YAHOO_ARGS, soak

TICKERS = [f"Y{i:02d}.NS" for i in range(20)]
FAST = ["--max-rps", "1000", "--fetch-workers", "4"]


def succeeded(db: Path) -> int:
    try:
        return int(
            one(db, "SELECT count(*) FROM analysis_jobs_details WHERE status = 'succeeded'")[0]
        )
    except sqlite3.OperationalError:  # not created yet
        return 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_while_every_worker_hangs_in_a_request_stops_at_once(
    db_path: Path, sig: signal.Signals
) -> None:
    hung = {"yahoo": {"hang": TICKERS[3:]}}  # from the 4th ticker on, no request returns
    proc = start_harness("analyze", *FAST, *TICKERS, config=hung)
    deadline = time.monotonic() + 60
    while succeeded(db_path) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if succeeded(db_path) != 3:
        proc.kill()
        pytest.fail(f"the first three did not succeed: {proc.communicate()}")
    time.sleep(0.5)  # the workers are now inside hung requests (no budget, no latency)
    sent = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    took = time.monotonic() - sent
    assert proc.returncode == 130, (proc.returncode, err)
    assert took < 5, took  # not held up by the hung requests (they would take an hour)
    errors = [line for line in err.splitlines() if not line.startswith("HARNESS:")]
    assert errors == [
        "Error: interrupted; job 1 is left resumable: run the same command again or "
        "`stockscan jobs resume 1`"
    ]
    assert one(db_path, "SELECT status FROM analysis_jobs")[0] == "interrupted"
    oracle(db_path)
    # The same command resumes: the three done stay done (and cached), the rest are fetched.
    again = harness("analyze", *FAST, *TICKERS, config={"yahoo": {}})
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("Resuming job 1: 17 of 20")
    requested = [line for line in again.stderr.splitlines() if line.startswith("HARNESS:")]
    assert len(requested) == 17
    assert succeeded(db_path) == 20
    oracle(db_path)


def test_network_down_stops_the_run_with_75_and_leaves_it_resumable(db_path: Path) -> None:
    down = harness("analyze", "--fetch-workers", "4", *TICKERS, config={"yahoo": {"down": True}})
    assert down.returncode == 75, down.stderr
    errors = [line for line in down.stderr.splitlines() if not line.startswith("HARNESS:")]
    assert len(errors) == 1 and "the network looks down" in errors[0]
    assert "job 1 stopped early and is resumable" in errors[0]
    statuses = [
        row[0]
        for row in sqlite3.connect(db_path).execute(
            "SELECT status FROM analysis_jobs_details ORDER BY position"
        )
    ]
    assert statuses == ["pending"] * 20  # a network failure is never a stock's failure
    oracle(db_path)
    up = harness("analyze", "--fetch-workers", "4", *TICKERS, config={"yahoo": {}})
    assert up.returncode == 0, up.stderr
    assert succeeded(db_path) == 20
    oracle(db_path)


def test_random_kills_while_fetching_ahead_leave_the_rows_of_a_clean_run(
    db_path: Path, tmp_path: Path
) -> None:
    """SIGKILL, SIGINT and SIGTERM at random moments of a yahoo run, with downloads in flight
    on four threads and the cache being filled: the oracle (price cache included) holds after
    each, and the same command then ends with exactly the rows of an uninterrupted run."""
    many = [f"K{i:03d}.NS" for i in range(120)]
    clean = tmp_path / "clean.db"
    run = harness("analyze", *YAHOO_ARGS, *many, config=YAHOO, db=clean)
    assert run.returncode == 0, run.stderr
    outcomes = soak(db_path, many, kills=12, seed=20261128, yahoo=True)
    assert sum(outcomes.values()) == 12
    assert facts(db_path) == facts(clean)
    cached = "SELECT count(*) FROM price_fetches"
    assert one(db_path, cached)[0] == one(clean, cached)[0] == len(many)
