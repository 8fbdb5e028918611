"""Fuzzed input: every bad ticker or option is exit 2 with `Error:` naming the value, no
traceback, and the database byte-identical afterwards."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from stockscan import store
from stockscan.cli import app
from stockscan.db import transaction
from stockscan.tickers import MAX_TICKER_LENGTH, normalise_all
from tests.conftest import run_cli

runner = CliRunner()
GOOD = ["TCS.NS", "m&m.ns", " BAJAJ-AUTO.NS ", "^NSEI", "INFY.BO", "USDINR=X", "TCS.NS"]
NASTY = st.one_of(
    st.sampled_from(
        [
            "",
            " ",
            "TCS NS",
            "../../etc/passwd",
            "A;DROP TABLE analysis_jobs;--",
            "'",
            '"',
            "x" * (MAX_TICKER_LENGTH + 1),
            "x" * 100_000,
            "TCS.NS\x00",
            "\x1b[31mRED",
            "[bold]X[/]",
            "TCS.NS\n--db=/tmp/x",
            "ÄPFEL.DE",
            "-",
            ".NS",
            "A..NS",
            "%s",
            "{0}",
            "\\",
            "A/B",
        ]
    ),
    st.text(min_size=1, max_size=30),
)


def shown(value: str) -> str:
    return repr(value if len(value) <= 40 else value[:40] + "…")


def db_bytes(path: Path) -> bytes:
    return path.read_bytes()


def seeded_db(path: Path) -> bytes:
    assert run_cli("analyze", "--source", "demo", "SEED.NS").returncode == 0
    return db_bytes(path)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    good=st.lists(st.sampled_from(GOOD), max_size=4),
    bad=NASTY,
    where=st.integers(min_value=0, max_value=4),
)
def test_bad_tickers(db_path: Path, good: list[str], bad: str, where: int) -> None:
    try:
        normalise_all([bad])
        return  # the text happened to be a valid ticker: not this test's case
    except Exception:  # noqa: BLE001 - whatever it is, the CLI must say it in one line
        pass
    if not db_path.exists():
        seeded_db(db_path)
    before = db_bytes(db_path)
    tickers = [*good[:where], bad, *good[where:]]
    result = runner.invoke(app, ["analyze", "--source", "demo", "--", *tickers])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    if bad.strip():
        assert shown(bad) in result.stderr
    assert db_bytes(db_path) == before


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    option=st.sampled_from(["--capital", "--risk-pct"]),
    value=st.one_of(
        st.sampled_from(["0", "-1", "nan", "inf", "-inf", "1e400", "abc", "", "101", "1,000"]),
        st.text(max_size=12),
    ),
)
def test_bad_money_options(db_path: Path, option: str, value: str) -> None:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if option == "--capital" and 0 < number < 1e15:
        return
    if option == "--risk-pct" and 0 < number <= 100:
        return
    if not db_path.exists():
        seeded_db(db_path)
    before = db_bytes(db_path)
    result = runner.invoke(app, ["analyze", "--source", "demo", "A.NS", option, value])
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "Error" in result.stderr and "Traceback" not in result.stderr
    assert option in result.stderr
    assert db_bytes(db_path) == before


def test_a_hundred_thousand_tickers_with_one_bad_one(db_path: Path) -> None:
    seeded_db(db_path)
    before = db_bytes(db_path)
    tickers = [f"T{i:06d}.NS" for i in range(100_000)] + ["BAD TICKER"]
    result = run_cli("analyze", "--source", "demo", *tickers)
    assert result.returncode == 2
    assert result.stderr == (
        "Error: invalid ticker 'BAD TICKER': expected a symbol like TCS.NS, M&M.NS, "
        "BAJAJ-AUTO.NS or ^NSEI (letters, digits, & and -, at most 20 characters)\n"
    )
    assert db_bytes(db_path) == before


def test_duplicates_are_dropped_and_order_kept() -> None:
    assert normalise_all(["tcs.ns", "INFY.NS", " TCS.NS", "infy.ns", "^nsei"]) == [
        "TCS.NS", "INFY.NS", "^NSEI",
    ]  # fmt: skip


def test_long_ticker_lists_never_hit_the_variable_limit(conn: sqlite3.Connection) -> None:
    tickers = [f"T{i:06d}.NS" for i in range(100_000)]
    with transaction(conn):
        job_id = store.create_job(
            conn, request_key="k", source="demo", params={}, run_date="2026-11-27",
            tickers=tickers, owner_pid=1, owner_host="h",
        )  # fmt: skip
    todo = store.unfinished_stocks(conn, job_id)
    assert len(todo) == 100_000 and todo[-1].ticker == tickers[-1]
    assert len(store.job_stocks(conn, job_id)) == 100_000
