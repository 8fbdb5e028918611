"""Screens (issue 19): the snapshot indicators as columns (result_indicators), the --where
language, --sort/--limit/--columns and saved screens."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from stockscan import jobs, store
from stockscan.analysis import INDICATOR_NAMES
from stockscan.db import transaction
from tests.conftest import oracle
from tests.fakes import FakeSource

DATES = ("2026-11-25", "2026-11-26", "2026-11-27")
TICKERS = ("TCS.NS", "INFY.NS", "M&M.NS", "SBIN.NS", "LT.NS", "WIPRO.NS")


def analyse(
    conn: sqlite3.Connection, db: Path, day: str, *tickers: str, n: int = 0
) -> jobs.JobOutcome:
    request = jobs.JobRequest(tickers=tickers, source="csv", capital=100_000 + n)
    fake = FakeSource(name="csv", end=np.datetime64(day, "D"))
    return jobs.run(conn, db, request, jobs.SilentReporter(), source=fake)


@pytest.fixture
def filled(db_path: Path) -> Iterator[sqlite3.Connection]:
    conn = store.open(db_path)
    for n, day in enumerate(DATES):
        analyse(conn, db_path, day, *TICKERS, n=n)
    yield conn
    conn.close()


def indicator_row(conn: sqlite3.Connection, result_id: int) -> dict[str, Any]:
    cursor = conn.execute("SELECT * FROM result_indicators WHERE result_id = ?", (result_id,))
    names = [d[0] for d in cursor.description]
    return dict(zip(names, cursor.fetchone(), strict=True))


def test_every_result_is_written_with_its_indicator_row_equal_to_its_snapshot(
    filled: sqlite3.Connection, db_path: Path
) -> None:
    results = filled.execute("SELECT id, ticker, analysis_date FROM analysis_results").fetchall()
    assert len(results) == len(TICKERS) * len(DATES)
    for result_id, ticker, day in results:
        detail = store.find_result(filled, ticker, on=day)
        assert detail is not None and detail["raw_payload"] is not None
        snapshot = json.loads(detail["raw_payload"])["indicators"]
        row = indicator_row(filled, result_id)
        assert {name: row[name] for name in INDICATOR_NAMES} == snapshot
        close, stop = detail["close"], detail["stop"]
        assert close is not None
        assert row["atr_pct"] == pytest.approx(100 * snapshot["atr_14"] / close)
        assert row["pct_from_52w_high"] == pytest.approx(
            100 * (close - snapshot["high_52w"]) / snapshot["high_52w"]
        )
        if stop is None:
            assert row["stop_pct"] is None
        else:
            assert row["stop_pct"] == pytest.approx(100 * abs(close - stop) / close)
    oracle(db_path)


def test_re_analysing_a_date_rewrites_its_row_and_pruning_raw_data_keeps_it(
    filled: sqlite3.Connection, db_path: Path
) -> None:
    result_id = filled.execute(
        "SELECT id FROM analysis_results WHERE ticker = 'TCS.NS' AND analysis_date = ?",
        (DATES[-1],),
    ).fetchone()[0]
    with filled:
        filled.execute("UPDATE result_indicators SET rsi_14 = -1 WHERE result_id = ?", (result_id,))
    analyse(filled, db_path, DATES[-1], "TCS.NS", n=50)
    assert indicator_row(filled, result_id)["rsi_14"] != -1
    kept = indicator_row(filled, result_id)
    with transaction(filled):
        store.prune_raw(filled, "9999-12-31", "2026-12-01T00:00:00+00:00")
    assert indicator_row(filled, result_id) == kept
    oracle(db_path)
