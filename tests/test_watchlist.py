"""The watchlist, the nightly scan, the crontab line, and `results changes`."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from stockscan import jobs, store
from stockscan.changes import events
from stockscan.cli import app
from tests.conftest import oracle, run_cli
from tests.fakes import FakeSource

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def watchlist(conn_db: Path) -> list[str]:
    conn = sqlite3.connect(conn_db)
    try:
        return [r[0] for r in conn.execute("SELECT ticker FROM watchlist ORDER BY id")]
    finally:
        conn.close()


def test_add_is_idempotent_and_exchange_suffixes_bare_symbols(db_path: Path) -> None:
    code, _, err = invoke("watchlist", "add", "tcs", "INFY.BO", "^nsei", "--exchange", "NSE")
    assert code == 0 and "Added 3" in err
    code, _, err = invoke("watchlist", "add", "TCS.NS", "--name", "Tata Consultancy")
    assert code == 0 and "already followed: TCS.NS" in err
    assert watchlist(db_path) == ["TCS.NS", "INFY.BO", "^NSEI"]
    code, out, _ = invoke("watchlist", "list", "--json")
    rows = json.loads(out)["watchlist"]
    assert rows[0]["name"] == "Tata Consultancy" and rows[0]["score"] is None


def test_invalid_tickers_write_nothing(db_path: Path) -> None:
    invoke("watchlist", "add", "A.NS")
    before = db_path.read_bytes()
    code, _, err = invoke("watchlist", "add", "B.NS", "bad ticker")
    assert code == 2 and err.startswith("Error: invalid ticker 'bad ticker'")
    assert db_path.read_bytes() == before


def test_remove(db_path: Path) -> None:
    invoke("watchlist", "add", "A.NS", "B.NS")
    code, _, err = invoke("watchlist", "remove", "A.NS", "Z.NS")
    assert code == 0 and "Removed 1; not followed: Z.NS" in err
    assert watchlist(db_path) == ["B.NS"]


def test_import_a_list_and_an_nse_csv(tmp_path: Path, db_path: Path) -> None:
    plain = tmp_path / "mine.txt"
    plain.write_text("# my stocks\nTCS.NS\n\ninfy.ns\nTCS.NS\n")
    code, _, err = invoke("watchlist", "import", str(plain))
    assert code == 0 and "2 added" in err
    nse = tmp_path / "EQUITY_L.csv"
    nse.write_text(
        "SYMBOL,NAME OF COMPANY, SERIES, DATE OF LISTING\n"
        "20MICRONS,20 Microns Limited,EQ,06-OCT-2008\n"
        "M&M,Mahindra & Mahindra Limited,EQ,17-NOV-1995\n"
        "TCS,Tata Consultancy Services Limited,EQ,25-AUG-2004\n"
    )
    code, _, err = invoke("watchlist", "import", str(nse), "--exchange", "NSE")
    assert code == 0 and "2 added, 1 already followed" in err
    assert watchlist(db_path) == ["TCS.NS", "INFY.NS", "20MICRONS.NS", "M&M.NS"]
    rows = json.loads(invoke("watchlist", "list", "--json")[1])["watchlist"]
    assert rows[3]["name"] == "Mahindra & Mahindra Limited"


def test_import_names_the_bad_line_and_writes_nothing(tmp_path: Path, db_path: Path) -> None:
    invoke("watchlist", "add", "A.NS")
    before = db_path.read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text("Symbol,Name\nGOOD.NS,Good\nNOT A TICKER,Bad\n")
    code, _, err = invoke("watchlist", "import", str(bad))
    assert code == 2 and f"{bad}:3: invalid ticker 'NOT A TICKER'" in err
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("Company,Price\nX,1\n")
    code, _, err = invoke("watchlist", "import", str(nocol))
    assert code == 2 and "SYMBOL or TICKER column" in err
    assert db_path.read_bytes() == before


def test_scan_of_an_empty_watchlist_is_a_usage_error(db_path: Path) -> None:
    invoke("db", "migrate")
    code, _, err = invoke("scan", "--source", "demo")
    assert code == 2 and "watchlist is empty" in err


def test_scan_links_the_watchlist_and_skips_what_has_no_new_bars(
    tmp_path: Path, db_path: Path
) -> None:
    log = tmp_path / "scan.log"
    assert run_cli("watchlist", "add", "TCS.NS", "INFY.NS").returncode == 0
    first = run_cli("scan", "--source", "demo", "--log-file", str(log))
    assert first.returncode == 0, first.stderr
    assert "\x1b[" not in first.stdout + first.stderr  # not a terminal: no ANSI codes
    results_before = (
        sqlite3.connect(db_path)
        .execute("SELECT id, updated_at, score FROM analysis_results ORDER BY id")
        .fetchall()
    )
    second = run_cli("scan", "--source", "demo", "--quiet", "--log-file", str(log))
    assert second.returncode == 0
    # the same market date: no new result rows, and none rewritten
    assert (
        sqlite3.connect(db_path)
        .execute("SELECT id, updated_at, score FROM analysis_results ORDER BY id")
        .fetchall()
        == results_before
    )
    assert "2 unchanged: no new bars since" in second.stdout
    assert "TCS.NS" not in second.stdout.split("Job 2")[0]  # --quiet: no per-stock lines
    lines = log.read_text().splitlines()
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d ", line) for line in lines)
    assert sum("unchanged: no new bars since" in line for line in lines) == 2
    assert any(line.endswith("Job 2 succeeded: 2 succeeded, 0 failed of 2") for line in lines)

    shown = json.loads(run_cli("jobs", "show", "2", "--json").stdout)
    assert {s["note"] for s in shown["stocks"]} == {shown["stocks"][0]["note"]}
    assert shown["stocks"][0]["note"].startswith("no new bars since")
    assert all(s["result_id"] is not None and s["quantity"] is not None for s in shown["stocks"])
    listed = json.loads(run_cli("watchlist", "list", "--json").stdout)["watchlist"]
    assert [(r["ticker"], r["last_job_id"], r["analysis_status"]) for r in listed] == [
        ("TCS.NS", 2, "succeeded"), ("INFY.NS", 2, "succeeded"),
    ]  # fmt: skip
    assert all(r["score"] is not None and r["stale"] is False for r in listed)
    oracle(db_path)


def test_watchlist_list_marks_stale_rows(conn: sqlite3.Connection) -> None:
    from stockscan.db import transaction

    with transaction(conn):
        store.add_to_watchlist(conn, [("OLD.NS", None), ("NEW.NS", None)])
    request = jobs.JobRequest(tickers=("OLD.NS",), source="csv")
    jobs.run(conn, request, jobs.SilentReporter(),
             source=FakeSource(end=np.datetime64("2026-11-20")))  # fmt: skip
    jobs.run(conn, jobs.JobRequest(tickers=("NEW.NS",), source="csv"),
             jobs.SilentReporter(), source=FakeSource())  # fmt: skip
    code, out, _ = invoke("watchlist", "list", "--json")
    rows = {r["ticker"]: r for r in json.loads(out)["watchlist"]}
    assert rows["OLD.NS"]["stale"] is True and rows["NEW.NS"]["stale"] is False
    code, out, _ = invoke("watchlist", "list")
    assert "2026-11-20 (stale)" in out


CRON_ENTRY = re.compile(
    r"(?P<minute>[0-5]?\d) (?P<hour>1?\d|2[0-3]) \* \* (?P<days>[0-6]-[0-6]) (?P<command>/\S+.*)"
)


def test_cron_line(db_path: Path) -> None:
    code, out, _ = invoke("cron", "--at", "18:30")
    assert code == 0
    lines = out.strip().splitlines()
    # every line is a crontab comment or the entry: five time fields and an absolute command
    assert all(line.startswith("#") for line in lines[:-1])
    line = lines[-1]
    entry = CRON_ENTRY.fullmatch(line)
    assert entry is not None, line
    assert entry["days"] in ("0-4", "1-5", "2-6")
    assert Path(entry["command"].split()[0]).is_absolute()
    assert f"--db {db_path.resolve()}" in line and "scan --quiet" in line
    assert "--log-file " + str(db_path.resolve().with_name("scan.log")) in line
    assert "15:30 IST" in out and "Exit codes" in out
    code, _, err = invoke("cron", "--at", "25:99")
    assert code == 2 and "--at '25:99'" in err


@pytest.mark.parametrize(
    ("pair", "expected"),
    [
        ({"verdict": "BUY", "prev_verdict": "HOLD", "close": 10, "prev_side": "none",
          "prev_stop": None, "prev_target": None}, ["HOLD → BUY"]),
        ({"verdict": "STRONG_BUY", "prev_verdict": None, "close": 10, "prev_side": None,
          "prev_stop": None, "prev_target": None}, ["new STRONG_BUY"]),
        ({"verdict": "SELL", "prev_verdict": "BUY", "close": 9.5, "prev_side": "long",
          "prev_stop": 9.6, "prev_target": 12}, ["BUY → SELL",
          "stop hit: close 9.50 at or below the stop 9.60"]),
        ({"verdict": "BUY", "prev_verdict": "BUY", "close": 12.5, "prev_side": "long",
          "prev_stop": 9.6, "prev_target": 12}, ["target reached: close 12.50 at or above 12.00"]),
        ({"verdict": "SELL", "prev_verdict": "SELL", "close": 11, "prev_side": "short",
          "prev_stop": 10.5, "prev_target": 8}, ["stop hit: close 11.00 at or above the short "
          "stop 10.50"]),
        ({"verdict": "HOLD", "prev_verdict": "HOLD", "close": 10, "prev_side": "none",
          "prev_stop": None, "prev_target": None}, []),
        # a move between results of two scoring versions says so
        ({"verdict": "BUY", "prev_verdict": "HOLD", "close": 10, "prev_side": "none",
          "prev_stop": None, "prev_target": None, "scoring_version": "2",
          "prev_scoring_version": "1"}, ["HOLD → BUY (scoring version 1 → 2)"]),
        ({"verdict": "BUY", "prev_verdict": "HOLD", "close": 10, "prev_side": "none",
          "prev_stop": None, "prev_target": None, "scoring_version": "2",
          "prev_scoring_version": "2"}, ["HOLD → BUY"]),
    ],
)  # fmt: skip
def test_change_events(pair: dict[str, object], expected: list[str]) -> None:
    assert events(pair) == expected


def test_results_changes_compares_with_the_previous_analysis(conn: sqlite3.Connection) -> None:
    tickers = tuple(f"CH{i:02d}.NS" for i in range(40))
    for end in ("2026-10-30", "2026-11-27"):
        jobs.run(conn, jobs.JobRequest(tickers=tickers, source="csv"),
                 jobs.SilentReporter(), source=FakeSource(end=np.datetime64(end)))  # fmt: skip
    code, out, _ = invoke("results", "changes", "--json")
    document = json.loads(out)
    assert document["since"] == "2026-11-27" and document["compared"] == 40
    assert document["changes"], "forty tickers a month apart: some verdict must have moved"
    for change in document["changes"]:
        assert change["prev_date"] == "2026-10-30" and change["events"]
    code, out, _ = invoke("results", "changes", "--since", "2026-12-01", "--json")
    assert json.loads(out)["compared"] == 0
    code, _, err = invoke("results", "changes", "--since", "yesterday")
    assert code == 2 and "--since" in err


def test_results_changes_table(conn: sqlite3.Connection) -> None:
    tickers = tuple(f"CH{i:02d}.NS" for i in range(40))
    for end in ("2026-10-30", "2026-11-27"):
        jobs.run(conn, jobs.JobRequest(tickers=tickers, source="csv"),
                 jobs.SilentReporter(), source=FakeSource(end=np.datetime64(end)))  # fmt: skip
    code, out, err = invoke("results", "changes")
    assert code == 0 and "→" in out and "2026-10-30" in out
    assert re.search(r"\d+ of 40 tickers analysed since 2026-11-27 changed", err)
