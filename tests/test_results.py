"""`stockscan results`: latest, history, show and export; their input checks; and proof that
each read command's main query uses an index (EXPLAIN QUERY PLAN), not a table scan."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from stockscan import jobs, render, store
from stockscan.analysis import INDICATOR_NAMES, VERDICTS
from stockscan.cli import app
from stockscan.cli import results as results_cli
from stockscan.db import Connection
from tests.conftest import oracle, run_cli
from tests.fakes import FakeSource

runner = CliRunner()
DATES = ("2026-11-23", "2026-11-24", "2026-11-25", "2026-11-26", "2026-11-27")
REAL = ("TCS.NS", "INFY.NS", "M&M.NS")


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def analyse(
    conn: Connection, day: str, *tickers: str, source: str = "csv", n: int = 0
) -> jobs.JobOutcome:
    # A different capital per call makes each call its own job (a new request key).
    request = jobs.JobRequest(tickers=tickers, source=source, capital=100_000 + n)  # type: ignore[arg-type]
    fake = FakeSource(name=source, end=np.datetime64(day, "D"))
    return jobs.run(conn, request, jobs.SilentReporter(), source=fake)


@pytest.fixture
def filled(db_path: Path) -> Iterator[sqlite3.Connection]:
    """Five market dates of three real (csv) tickers, then one demo job on the last date."""
    conn = store.open(db_path)
    for n, day in enumerate(DATES):
        analyse(conn, day, *REAL, n=n)
    analyse(conn, DATES[-1], "DEMO.NS", "TCS.NS", source="demo", n=99)
    yield conn
    conn.close()


def newest(conn: sqlite3.Connection, ticker: str, day: str = DATES[-1]) -> dict[str, Any]:
    row = conn.execute(
        "SELECT score, verdict, analysis_source FROM analysis_results"
        " WHERE ticker = ? AND analysis_date = ?",
        (ticker, day),
    ).fetchone()
    return {"score": row[0], "verdict": row[1], "analysis_source": row[2]}


# --- latest --------------------------------------------------------------------------------


def test_latest_is_one_row_per_ticker_best_score_first(filled: sqlite3.Connection) -> None:
    code, out, err = invoke("results", "latest", "--json")
    assert code == 0, err
    document = json.loads(out)
    rows = document["results"]
    assert sorted(r["ticker"] for r in rows) == sorted([*REAL, "DEMO.NS"])
    assert all(r["analysis_date"] == DATES[-1] for r in rows)
    scores = [r["score"] for r in rows]
    assert scores == sorted(scores, reverse=True)
    for row in rows:
        # every field of the listings, and the indicator columns a screen reads (issue 19)
        assert set(row) == {*render.result_fields(), *store.INDICATOR_COLUMNS}
        assert row["score"] == newest(filled, row["ticker"])["score"]
        # demo rows are marked, and a demo result never replaced the real TCS.NS one
        assert row["demo"] is (row["ticker"] == "DEMO.NS")
    assert document["missing"] == [] and document["as_of"] is None


def test_latest_filters_apply_to_the_newest_row(filled: sqlite3.Connection) -> None:
    everything = json.loads(invoke("results", "latest", "--json")[1])["results"]
    median = sorted(r["score"] for r in everything)[1]
    code, out, _ = invoke("results", "latest", "--json", "--min-score", str(median))
    assert {r["ticker"] for r in json.loads(out)["results"]} == {
        r["ticker"] for r in everything if r["score"] >= median
    }
    verdict = everything[0]["verdict"]
    code, out, _ = invoke("results", "latest", "--json", "--verdict", verdict.lower())
    assert {r["verdict"] for r in json.loads(out)["results"]} == {verdict}
    code, out, _ = invoke("results", "latest", "--json", "--source", "demo")
    assert [r["ticker"] for r in json.loads(out)["results"]] == ["DEMO.NS"]
    code, out, _ = invoke("results", "latest", "--json", "--verdict", "STRONG_BUY,BUY,HOLD,SELL")
    assert code == 0


def test_latest_for_given_tickers_names_the_missing_ones(filled: sqlite3.Connection) -> None:
    code, out, err = invoke("results", "latest", "tcs.ns", "NOPE.NS", "TCS.NS", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert [r["ticker"] for r in document["results"]] == ["TCS.NS"]
    assert document["missing"] == ["NOPE.NS"]
    code, out, err = invoke("results", "latest", "TCS.NS", "NOPE.NS")
    assert code == 0 and "TCS.NS" in out and "No results for NOPE.NS" in err


def test_latest_as_of_a_date_takes_the_newest_on_or_before_it(
    filled: sqlite3.Connection,
) -> None:
    code, out, _ = invoke("results", "latest", "--date", DATES[1], "--json")
    rows = json.loads(out)["results"]
    assert {r["ticker"] for r in rows} == set(REAL)  # no demo result existed then
    assert all(r["analysis_date"] == DATES[1] for r in rows)
    for row in rows:
        assert row["score"] == newest(filled, row["ticker"], DATES[1])["score"]
    # a weekend date answers with Friday's results
    code, out, _ = invoke("results", "latest", "--date", "2026-11-29", "--json")
    assert {r["analysis_date"] for r in json.loads(out)["results"]} == {DATES[-1]}
    code, out, _ = invoke("results", "latest", "--date", "2020-01-01", "--json")
    assert json.loads(out)["results"] == []


def test_latest_table_and_csv_mark_demo_rows(filled: sqlite3.Connection) -> None:
    code, out, _ = invoke("results", "latest")
    assert code == 0
    demo_line = next(line for line in out.splitlines() if line.startswith("DEMO.NS"))
    assert demo_line.rstrip().endswith("DEMO")
    tcs_line = next(line for line in out.splitlines() if line.startswith("TCS.NS"))
    assert tcs_line.rstrip().endswith("csv")
    assert "synthetic prices" in out and "db prune --demo" in out
    code, out, _ = invoke("results", "latest", "--csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert len(rows) == 4 and list(rows[0]) == list(render.result_fields())
    assert {r["ticker"]: r["demo"] for r in rows}["DEMO.NS"] == "True"
    assert {r["ticker"]: r["analysis_source"] for r in rows}["DEMO.NS"] == "demo"


def test_latest_on_an_empty_database(db_path: Path) -> None:
    store.open(db_path).close()
    code, out, err = invoke("results", "latest")
    assert code == 0 and out == "" and "No results" in err
    assert json.loads(invoke("results", "latest", "--json")[1])["results"] == []


# --- history -------------------------------------------------------------------------------


def test_history_is_newest_first_with_moves(filled: sqlite3.Connection) -> None:
    code, out, err = invoke("results", "history", "tcs.ns", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["ticker"] == "TCS.NS"
    rows = document["history"]
    assert [r["analysis_date"] for r in rows] == list(reversed(DATES))
    truth = [newest(filled, "TCS.NS", day) for day in reversed(DATES)]
    for row, previous in zip(rows, [*truth[1:], None], strict=True):
        if previous is None:
            assert row["score_change"] is None and row["previous_verdict"] is None
        else:
            assert row["score_change"] == pytest.approx(row["score"] - previous["score"])
            assert row["previous_verdict"] == previous["verdict"]
    # --limit keeps the move of the oldest row shown: it reads one row more than it shows
    code, out, _ = invoke("results", "history", "TCS.NS", "--limit", "2", "--json")
    limited = json.loads(out)["history"]
    assert limited == rows[:2] and limited[-1]["score_change"] is not None


def test_history_table_shows_verdict_moves(filled: sqlite3.Connection) -> None:
    rows = store.result_history(filled, "TCS.NS", limit=10)
    code, out, _ = invoke("results", "history", "TCS.NS")
    assert code == 0 and "TCS.NS: 5 newest analyses" in out
    for row in rows:
        if row["previous_verdict"] and row["previous_verdict"] != row["verdict"]:
            assert f"{row['previous_verdict']} -> {row['verdict']}" in out


def test_history_of_an_unknown_ticker_is_a_usage_error(filled: sqlite3.Connection) -> None:
    code, _, err = invoke("results", "history", "NOPE.NS")
    assert code == 2 and err.startswith("Error: no results for NOPE.NS")


# --- show ----------------------------------------------------------------------------------


def test_show_json_has_the_design_keys(filled: sqlite3.Connection) -> None:
    code, out, err = invoke("results", "show", "TCS.NS", "--json")
    assert code == 0, err
    document = json.loads(out)
    assert document["ticker"] == "TCS.NS" and document["analysis_date"] == DATES[-1]
    assert list(document["indicators"]) == list(INDICATOR_NAMES)
    assert len(document["components"]) >= 5
    for component in document["components"]:
        assert {"name", "points", "max_points", "reason"} <= set(component)
        assert 0 <= component["points"] <= component["max_points"] and component["reason"]
    assert sum(c["points"] for c in document["components"]) == pytest.approx(
        document["score"], abs=0.1
    )
    provenance = document["provenance"]
    assert provenance["source"] == "csv" and provenance["demo"] is False
    assert provenance["market_date"] == DATES[-1] and provenance["last_bar_complete"] is True
    assert provenance["raw_data"] == "present" and provenance["job_id"] is not None
    assert document["plan"]["side"] in ("long", "short", "none")
    assert document["position"]["job_id"] == provenance["job_id"]
    assert document["position"]["capital"] == 100_004  # the job of the last date


def test_show_at_a_date_and_in_a_table(filled: sqlite3.Connection) -> None:
    code, out, _ = invoke("results", "show", "TCS.NS", "--date", DATES[2], "--json")
    document = json.loads(out)
    assert document["analysis_date"] == DATES[2]
    assert document["score"] == newest(filled, "TCS.NS", DATES[2])["score"]
    code, out, _ = invoke("results", "show", "TCS.NS", "--date", DATES[2])
    assert code == 0
    for text in ("Trade plan", "Provenance", "Indicators at the last bar", "rsi_14",
                 "Score components", DATES[2], "last bar complete"):  # fmt: skip
        assert text in out, text
    for component in document["components"]:
        assert component["reason"] in out
    code, out, _ = invoke("results", "show", "DEMO.NS")
    assert "DEMO DATA: synthetic prices, not market data" in out
    code, _, err = invoke("results", "show", "TCS.NS", "--date", "2020-01-01")
    assert code == 2 and "no results for TCS.NS on or before 2020-01-01" in err


def test_find_result_on_a_date_is_that_date_or_none_as_of_a_date_is_the_newest_before(
    filled: sqlite3.Connection,
) -> None:
    on = store.find_result(filled, "TCS.NS", on="2026-11-25")
    assert on is not None and on["analysis_date"] == "2026-11-25"
    assert store.find_result(filled, "TCS.NS", on="2026-11-28") is None
    as_of = store.find_result(filled, "TCS.NS", as_of="2026-11-28")
    assert as_of is not None and as_of["analysis_date"] == DATES[-1]
    newest = store.find_result(filled, "TCS.NS")
    assert newest is not None and newest["id"] == as_of["id"]
    with pytest.raises(ValueError):
        store.find_result(filled, "TCS.NS", on="2026-11-25", as_of="2026-11-25")


def test_a_result_leaves_the_store_with_its_jobs_params_decoded(
    filled: sqlite3.Connection,
) -> None:
    found = store.find_result(filled, "INFY.NS", on=DATES[-1])
    assert found is not None and found["legacy_result_id"] is None
    assert isinstance(found["job_params"], dict) and found["job_params"]["capital"] > 0
    assert store.find_result(filled, "INFY.NS", on="2026-11-28") is None
    assert found["job_id"] is not None
    stocks = store.report_stocks(filled, found["job_id"])
    assert all(isinstance(stock["result_job_params"], dict) for stock in stocks)
    job = store.get_job(filled, found["job_id"])
    assert job is not None and job["params"] == found["job_params"]
    assert all(isinstance(listed["params"], dict) for listed in store.list_jobs(filled))


# --- export --------------------------------------------------------------------------------


def test_export_formats_agree(filled: sqlite3.Connection, tmp_path: Path) -> None:
    total = filled.execute("SELECT count(*) FROM analysis_results").fetchone()[0]
    code, out, _ = invoke("results", "export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == total
    assert [(r["ticker"], r["analysis_date"]) for r in rows] == sorted(
        (r["ticker"], r["analysis_date"]) for r in rows
    )
    code, out, _ = invoke("results", "export", "--format", "json")
    as_json = json.loads(out)
    code, out, _ = invoke("results", "export", "--format", "ndjson")
    as_ndjson = [json.loads(line) for line in out.splitlines()]
    assert as_json == as_ndjson and len(as_json) == total
    assert [str(r["id"]) for r in as_json] == [r["id"] for r in rows]
    assert {r["ticker"] for r in as_json if r["demo"]} == {"DEMO.NS"}


def test_export_filters(filled: sqlite3.Connection) -> None:
    code, out, _ = invoke(
        "results", "export", "--format", "ndjson", "INFY.NS", "TCS.NS",
        "--since", DATES[1], "--until", DATES[3],
    )  # fmt: skip
    rows = [json.loads(line) for line in out.splitlines()]
    assert [(r["ticker"], r["analysis_date"]) for r in rows] == [
        (t, d) for t in ("INFY.NS", "TCS.NS") for d in DATES[1:4]
    ]
    code, out, _ = invoke("results", "export", "--format", "json", "--source", "demo")
    assert [r["ticker"] for r in json.loads(out)] == ["DEMO.NS"]
    code, out, _ = invoke("results", "export", "--format", "json", "--min-score", "101")
    assert code == 2
    code, out, _ = invoke("results", "export", "--format", "json", "--until", "2000-01-01")
    assert json.loads(out) == []


def test_export_to_a_file_never_overwrites_without_force(
    filled: sqlite3.Connection, tmp_path: Path
) -> None:
    target = tmp_path / "out.csv"
    code, _, err = invoke("results", "export", "--format", "csv", "--output", str(target))
    assert code == 0 and "Exported 16 results" in err
    first = target.read_text()
    assert first.startswith("id,ticker,") and first.count("\n") == 17
    code, _, err = invoke("results", "export", "--format", "json", "-o", str(target))
    assert code == 2 and "file exists" in err and "--force" in err
    assert target.read_text() == first
    code, _, err = invoke("results", "export", "--format", "json", "-o", str(target), "--force")
    assert code == 0 and len(json.loads(target.read_text())) == 16
    code, _, err = invoke("results", "export", "--format", "csv", "-o", str(tmp_path / "no" / "x"))
    assert code == 2 and "does not exist" in err
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_export_streams_in_constant_memory() -> None:
    def rows(count: int) -> Iterator[dict[str, Any]]:
        template = dict.fromkeys(render.result_fields(), 1.5)
        for i in range(count):
            yield {**template, "id": i, "ticker": f"T{i}.NS"}

    class Sink(io.TextIOBase):
        def write(self, text: str) -> int:
            return len(text)

    for fmt in ("csv", "json", "ndjson"):
        peaks = []
        for count in (2_000, 40_000):
            tracemalloc.start()
            assert render.write_records(rows(count), fmt, Sink()) == count
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
        assert peaks[1] < peaks[0] * 1.5 + 10_000, (fmt, peaks)


def test_iter_results_is_lazy(filled: sqlite3.Connection) -> None:
    stream = store.iter_results(filled)
    assert isinstance(stream, Iterator)
    assert next(stream)["ticker"] == "DEMO.NS"


# --- input checks and read-only behaviour ---------------------------------------------------


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["results", "latest", "BAD TICKER"], "invalid ticker 'BAD TICKER'"),
        (["results", "latest", "--date", "2026-13-01"], "--date '2026-13-01'"),
        (["results", "latest", "--date", "20261127"], "--date '20261127'"),
        (["results", "latest", "--verdict", "MAYBE"], "--verdict 'MAYBE'"),
        (["results", "latest", "--source", "web"], "--source 'web'"),
        (["results", "latest", "--min-score", "-1"], "--min-score -1"),
        (["results", "latest", "--json", "--csv"], "--json and --csv"),
        (["results", "history", "../etc"], "invalid ticker '../etc'"),
        (["results", "show", "TCS.NS", "--date", "yesterday"], "--date 'yesterday'"),
        (["results", "export", "--format", "xml"], "--format 'xml'"),
        (["results", "export", "--format", "csv", "--since", "2026-02-30"], "--since"),
    ],
)
def test_bad_input_is_a_usage_error_naming_the_value(
    filled: sqlite3.Connection, args: list[str], named: str
) -> None:
    code, out, err = invoke(*args)
    assert code == 2, err
    assert err.startswith("Error: ") and named in err and err.count("\n") == 1
    assert out == ""


def test_exit_codes_through_a_real_process(db_path: Path) -> None:
    missing = run_cli("results", "latest")
    assert missing.returncode == 5 and "no database" in missing.stderr
    assert not db_path.exists()  # a read command never creates the database
    assert run_cli("analyze", "--source", "demo", "TCS.NS").returncode == 0
    ok = run_cli("results", "latest", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["results"][0]["demo"] is True
    bad = run_cli("results", "show", "TCS.NS", "--date", "2026-02-30")
    assert bad.returncode == 2
    assert bad.stderr == "Error: --date '2026-02-30': expected a date like 2026-11-27\n"
    none = run_cli("results", "history", "INFY.NS")
    assert none.returncode == 2 and none.stderr.startswith("Error: no results for INFY.NS")
    # a reader that stops early is not an error
    piped = subprocess.run(
        f"{sys.executable} -m stockscan results export --format ndjson | head -c 10",
        shell=True,
        capture_output=True,
        text=True,
    )
    assert piped.returncode == 0 and "Traceback" not in piped.stderr
    oracle(db_path)


READ_COMMANDS = [
    ["results", "latest", "--json"],
    ["results", "latest", "TCS.NS", "--csv"],
    ["results", "history", "TCS.NS"],
    ["results", "show", "TCS.NS", "--json"],
    ["results", "show", "TCS.NS"],
    ["results", "export", "--format", "ndjson"],
    ["jobs", "prune", "--older-than", "30", "--dry-run"],
    ["db", "prune", "--raw-older-than", "30", "--dry-run"],
    ["db", "vacuum"],
]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_read_commands_do_not_import_pandas_or_yfinance(db_path: Path, command: list[str]) -> None:
    assert run_cli("analyze", "--source", "demo", "TCS.NS").returncode == 0
    probe = (
        "import sys, atexit\n"
        "atexit.register(lambda: print(sorted(m for m in ('pandas', 'yfinance', 'numpy')"
        " if m in sys.modules), file=sys.stderr))\n"
        f"sys.argv = ['stockscan', *{command!r}]\n"
        "from stockscan.cli import main\n"
        "main()\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stderr.strip().splitlines()[-1] == "[]", result.stderr


def test_the_cli_verdicts_and_sources_are_the_engines() -> None:
    assert results_cli.VERDICTS == VERDICTS
    assert set(results_cli.SOURCES) == set(store.REAL_SOURCES) | {"demo"}


# --- every read command's main query uses an index -------------------------------------------


def plan(conn: sqlite3.Connection, query: tuple[str, list[Any]]) -> list[str]:
    sql, params = query
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]


RESULT_TABLES = ("analysis_results", "analysis_raw_data", "analysis_jobs_details",
                 "analysis_jobs", " r ", " raw ", " d ", " j ")  # fmt: skip


def touches_a_table(step: str) -> bool:
    return any(name in f" {step} " for name in RESULT_TABLES)


@pytest.mark.parametrize(
    "query",
    [
        store.latest_query(None),
        store.latest_query(["TCS.NS", "INFY.NS"]),
        store.latest_query(
            None, as_of="2026-11-25", verdicts=["BUY"], min_score=50.0, source="csv"
        ),
        store.latest_query(["TCS.NS"], as_of="2026-11-25", verdicts=["BUY", "HOLD"]),
        store.history_query("TCS.NS", limit=30),
        store.find_result_query("TCS.NS"),
        store.find_result_query("TCS.NS", as_of="2026-11-25"),
        store.find_result_query("TCS.NS", on="2026-11-25"),
        store.export_query(["TCS.NS", "INFY.NS"], since="2026-11-24", until="2026-11-26"),
        store.tickers_without_results_query(["TCS.NS", "NOPE.NS"], as_of=None),
    ],
    ids=(
        "latest-all latest-tickers latest-all-filtered latest-tickers-filtered history show"
        " show-date find-on-date export-tickers missing-tickers"
    ).split(),
)
def test_read_queries_seek_an_index_never_scan_a_table(
    filled: sqlite3.Connection, query: tuple[str, list[Any]]
) -> None:
    steps = plan(filled, query)
    on_tables = [step for step in steps if touches_a_table(step)]
    assert on_tables, steps
    for step in on_tables:
        # SEARCH … USING (COVERING) INDEX / INTEGER PRIMARY KEY: a seek, never a full scan.
        assert step.startswith("SEARCH "), steps
        assert "USING" in step and ("INDEX" in step or "PRIMARY KEY" in step), steps


def test_export_of_everything_walks_the_index_in_order(filled: sqlite3.Connection) -> None:
    # A full export reads every row by definition; it must still come in index order so
    # that rows stream out without a sort that would hold them all.
    for query in (store.export_query(), store.export_query(since="2026-11-24", source="csv")):
        steps = plan(filled, query)
        assert steps == ["SCAN r USING INDEX idx_results_ticker_date"], steps
