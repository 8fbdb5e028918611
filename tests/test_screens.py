"""Screens (issue 19): the snapshot indicators as columns (result_indicators), the --where
language, --sort/--limit/--columns and saved screens."""

from __future__ import annotations

import html
import json
import re
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from stockscan import jobs, store
from stockscan.analysis import INDICATOR_NAMES
from stockscan.cli import app
from stockscan.db import Connection, transaction
from stockscan.errors import UsageError
from stockscan.screens import FIELDS, compile_sort, compile_where
from tests.conftest import oracle
from tests.fakes import FakeSource

DATES = ("2026-11-25", "2026-11-26", "2026-11-27")
STOCKSCAN = str(Path(sys.executable).parent / "stockscan")
TICKERS = ("TCS.NS", "INFY.NS", "M&M.NS", "SBIN.NS", "LT.NS", "WIPRO.NS")


def analyse(conn: Connection, day: str, *tickers: str, n: int = 0) -> jobs.JobOutcome:
    request = jobs.JobRequest(tickers=tickers, source="csv", capital=100_000 + n)
    fake = FakeSource(name="csv", end=np.datetime64(day, "D"))
    return jobs.run(conn, request, jobs.SilentReporter(), source=fake)


@pytest.fixture
def filled(db_path: Path) -> Iterator[sqlite3.Connection]:
    conn = store.open(db_path)
    for n, day in enumerate(DATES):
        analyse(conn, day, *TICKERS, n=n)
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
    analyse(filled, DATES[-1], "TCS.NS", n=50)
    assert indicator_row(filled, result_id)["rsi_14"] != -1
    kept = indicator_row(filled, result_id)
    with transaction(filled):
        store.prune_raw(filled, "9999-12-31", "2026-12-01T00:00:00+00:00")
    assert indicator_row(filled, result_id) == kept
    oracle(db_path)


# --- the --where language ---------------------------------------------------------------------

runner = CliRunner()


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def show(ticker: str) -> dict[str, Any]:
    code, out, _ = invoke("results", "show", ticker, "--json")
    assert code == 0
    document: dict[str, Any] = json.loads(out)
    return document


def derived(doc: dict[str, Any]) -> dict[str, Any]:
    """A result's fields as the language names them, from `results show --json` alone."""
    values: dict[str, Any] = {**doc["indicators"]}
    close, stop = doc["close"], doc["stop"]
    values.update(
        score=doc["score"], close=close, entry=doc["entry"], stop=stop, target=doc["target"],
        reward_risk=doc["reward_risk"], verdict=doc["verdict"], side=doc["side"],
        source=doc["analysis_source"], ticker=doc["ticker"],
        atr_pct=100 * values["atr_14"] / close,
        stop_pct=None if stop is None else 100 * abs(close - stop) / close,
        pct_from_52w_high=100 * (close - values["high_52w"]) / values["high_52w"],
    )  # fmt: skip
    return values


def both(*values: Any) -> bool:
    return all(v is not None for v in values)


# Each screen with the same filter written in Python over `results show --json` (SQL's NULL:
# a comparison with a missing value does not pass).
PROOFS: list[tuple[str, Any]] = [
    ("close > sma_200 and rsi_14 < 60", lambda v: v["close"] > v["sma_200"] and v["rsi_14"] < 60),
    (
        "verdict in (BUY, STRONG_BUY) or rsi_14 > 65",
        lambda v: v["verdict"] in ("BUY", "STRONG_BUY") or v["rsi_14"] > 65,
    ),
    ("not (score >= 50)", lambda v: not v["score"] >= 50),
    ("stop_pct < 8", lambda v: both(v["stop_pct"]) and v["stop_pct"] < 8),
    ("stop is null", lambda v: v["stop"] is None),
    (
        "atr_pct between 1 and 3 and side != none",
        lambda v: 1 <= v["atr_pct"] <= 3 and v["side"] != "none",
    ),
    ("pct_from_52w_high > -10", lambda v: v["pct_from_52w_high"] > -10),
    (
        "(close - sma_50) / atr_14 > 0.5 and volume_ratio_20 > 0.8",
        lambda v: (
            (v["close"] - v["sma_50"]) / v["atr_14"] > 0.5
            and both(v["volume_ratio_20"])
            and v["volume_ratio_20"] > 0.8
        ),
    ),
    (
        "macd > macd_signal and adx_14 >= 20",
        lambda v: v["macd"] > v["macd_signal"] and v["adx_14"] >= 20,
    ),
    (
        "ticker = 'TCS.NS' or roc_20 * 2 < -5",
        lambda v: v["ticker"] == "TCS.NS" or v["roc_20"] * 2 < -5,
    ),
    (
        "verdict not in (HOLD) and bb_lower < close",
        lambda v: v["verdict"] != "HOLD" and v["bb_lower"] < v["close"],
    ),
]


def test_a_screen_passes_exactly_the_results_python_passes_over_results_show(
    filled: sqlite3.Connection,
) -> None:
    values = {ticker: derived(show(ticker)) for ticker in TICKERS}
    outcomes = set()
    for expression, check in PROOFS:
        code, out, err = invoke("results", "latest", "--where", expression, "--json")
        assert code == 0, err
        passed = sorted(row["ticker"] for row in json.loads(out)["results"])
        expected = sorted(t for t, v in values.items() if check(v))
        assert passed == expected, expression
        outcomes.add(len(passed))
    assert len(outcomes) > 2  # the screens do tell the stocks apart


def test_where_filters_the_newest_result_of_each_ticker_only(filled: sqlite3.Connection) -> None:
    code, out, _ = invoke("results", "latest", "--where", "score >= 0", "--json")
    rows = json.loads(out)["results"]
    assert code == 0 and len(rows) == len(TICKERS)
    assert {row["analysis_date"] for row in rows} == {DATES[-1]}
    code, out, _ = invoke(
        "results", "latest", "--where", "score >= 0", "--date", DATES[0], "--json"
    )
    assert {row["analysis_date"] for row in json.loads(out)["results"]} == {DATES[0]}


BAD = [
    ("rsi > 30", "unknown name 'rsi' at position 1; known names: score, close"),
    ("close >", "expected a value, a name or '(', found the end at position 8"),
    ("close > 'a'", "'>' compares a number with text at position 7"),
    ("verdict = 'BUYY'", "'BUYY' is not a value of verdict: expected one of STRONG_BUY"),
    ("close", "a screen needs a condition, not a number at position 1"),
    ("(score > 1", "expected ')', found the end at position 11"),
    ("score > 1 2", "found '2' at position 11"),
    ("1=1; DROP TABLE analysis_results", "unexpected character ';' at position 4"),
    ("__import__('os').system('id')", "unexpected character '.' at position 17"),
    ("(" * 100 + "score > 1" + ")" * 100, "nests deeper than 40 levels at position 41"),
    ("1>0 and " * 210 + "1>0", "more than 200 operations in one chain"),
    ("x" * 1_000_000, "the expression is 1000000 characters; at most 2000"),
    ("score > 1\x00", "unexpected character '\\x00' at position 10"),
    ("", "empty expression"),
]


@pytest.mark.parametrize(("expression", "message"), BAD)
def test_a_bad_screen_is_one_line_and_exit_2_before_the_database_is_opened(
    isolated: Path, expression: str, message: str
) -> None:
    """A real process, and --db naming a file that does not exist: a database opened first
    would say so (exit 5) instead."""
    missing = isolated / "nowhere.db"
    if "\x00" in expression or len(expression) > 100_000:
        # No argv holds a NUL byte, nor one argument of a megabyte (Linux: 128 KB): in process.
        code, out, err = invoke("results", "latest", "--db", str(missing), "--where", expression)
        done = subprocess.CompletedProcess([], code, out, err)
    else:
        done = subprocess.run(
            [STOCKSCAN, "results", "latest", "--db", str(missing), "--where", expression],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: --where: "), lines
    assert message in lines[0]
    assert len(lines[0]) < 1000  # the input is never echoed whole
    assert not missing.exists()


SQL_WORDS = frozenset(
    {field.sql for field in FIELDS.values()}
    | {"?", "(", ")", ",", "AND", "OR", "NOT", "IN", "IS", "NULL", "BETWEEN"}
    | {"<", "<=", ">", ">=", "=", "<>", "+", "-", "*", "/"}
)
PIECES = [
    *FIELDS, "BUY", "strong_buy", "long", "demo", "and", "or", "not", "in", "is", "null",
    "between", "(", ")", ",", "<", ">=", "=", "!=", "+", "-", "*", "/", "1", "2.5", ".5",
    "1e3", "'BUY'", '"x"', "'", ";", "--", "'; DROP TABLE analysis_results; --", "\x00", "é",
]  # fmt: skip


@pytest.fixture(scope="module")
def screened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    db = tmp_path_factory.mktemp("fuzz") / "fuzz.db"
    conn = store.open(db)
    analyse(conn, DATES[-1], *TICKERS)
    yield conn
    conn.close()


NUMBERS = [f for f, field in FIELDS.items() if field.kind == "number"]
CLAUSE = st.tuples(
    st.sampled_from(NUMBERS),
    st.sampled_from(["<", "<=", ">", ">=", "=", "!=", "+ 1 >", "* 2 <", "/ 0 >"]),
    st.one_of(st.sampled_from(NUMBERS), st.floats(-1e6, 1e6).map(str)),
).map(" ".join)
SCREENS = st.lists(
    st.one_of(CLAUSE, st.sampled_from(["verdict in (BUY, HOLD)", "stop is null", "side = long"])),
    min_size=1,
    max_size=8,
).flatmap(
    lambda clauses: st.lists(st.sampled_from([" and ", " or ", " and not "]),
                             min_size=len(clauses) - 1, max_size=len(clauses) - 1)
    .map(lambda joins: clauses[0] + "".join(j + c for j, c in zip(joins, clauses[1:], strict=True)))
)  # fmt: skip


def mutated(text: str, where: int, piece: str) -> str:
    at = where % (len(text) + 1)
    return text[:at] + piece + text[at:]


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    st.one_of(
        st.text(max_size=200),
        st.lists(st.sampled_from(PIECES), max_size=40).map(" ".join),
        st.lists(st.sampled_from(PIECES), max_size=40).map("".join),
        SCREENS,
        st.builds(mutated, SCREENS, st.integers(0, 400), st.sampled_from(PIECES)),
    )
)
def test_any_text_is_a_screen_or_a_usage_error_and_none_of_it_reaches_the_sql(
    screened: sqlite3.Connection, text: str
) -> None:
    try:
        compiled = compile_where(text)
    except UsageError as error:
        assert str(error).startswith("--where: ") and "\n" not in str(error)
        return
    words = re.findall(r"[A-Za-z_][A-Za-z_0-9.]*|<=|>=|<>|\S", compiled.sql)
    assert set(words) <= SQL_WORDS, (text, compiled.sql)
    assert compiled.sql.count("?") == len(compiled.params)
    # and SQLite runs it
    store.latest_results(screened, None, where=(compiled.sql, compiled.params))


NASTY = [
    "1=1; DROP TABLE analysis_results",
    "score > 0; DROP TABLE analysis_results; --",
    "ticker = 'x' or 1=1 --'",
    "__import__('os').system('id')",
    "x" * 1_000_000,
    "(" * 5000 + "score > 1" + ")" * 5000,
    "not " * 400 + "score > 1",
    "score > 1\x00; DROP TABLE analysis_results",
    "\x00",
]


def database_files(db: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name)
            and not p.name.endswith("-shm")}  # fmt: skip


def test_nasty_screens_leave_the_database_byte_identical(db_path: Path) -> None:
    conn = store.open(db_path)
    analyse(conn, DATES[-1], *TICKERS)
    conn.close()
    assert invoke("results", "latest")[0] == 0  # whatever a read leaves, it has left
    before = database_files(db_path)
    for text in NASTY:
        if "\x00" in text or len(text) > 100_000:
            code, out, err = invoke("results", "latest", "--where", text)
        else:
            done = subprocess.run(
                [STOCKSCAN, "results", "latest", "--where", text],
                capture_output=True,
                text=True,
                timeout=60,
            )
            code, out, err = done.returncode, done.stdout, done.stderr
        assert code == 2 and out == "" and len(err.splitlines()) == 1, (text[:40], err)
        assert database_files(db_path) == before
    oracle(db_path)


@pytest.mark.parametrize(
    "expression",
    [
        "close > sma_200 and rsi_14 < 40 and volume_ratio_20 > 1.5",
        "verdict in (BUY, STRONG_BUY) or stop_pct < 3",
        "not (atr_pct between 1 and 4) and ticker != 'TCS.NS'",
    ],
)
def test_a_compiled_screen_seeks_indexes_and_never_scans_a_table(
    filled: sqlite3.Connection, expression: str
) -> None:
    """The latest row per ticker is two seeks of idx_results_ticker_date, its indicators one
    primary-key seek: the screen filters those rows, it never scans results or indicators."""
    compiled = compile_where(expression)
    for tickers in (None, ["TCS.NS", "INFY.NS"]):
        sql, params = store.latest_query(tickers, where=(compiled.sql, compiled.params))
        steps = [row[3] for row in filled.execute("EXPLAIN QUERY PLAN " + sql, params)]
        tabled = [s for s in steps if any(f" {t} " in f" {s} " for t in ("r", "i",
                  "analysis_results", "result_indicators"))]  # fmt: skip
        assert any("result_indicators" in s or " i " in f" {s} " for s in tabled), steps
        for step in tabled:
            assert step.startswith("SEARCH ") and "USING" in step, steps


def test_export_and_watchlist_list_take_the_same_screens(filled: sqlite3.Connection) -> None:
    expression = "close > sma_50 or verdict = HOLD"
    code, out, _ = invoke("results", "export", "--format", "json")
    every = json.loads(out)
    assert code == 0 and len(every) == len(TICKERS) * len(DATES)
    code, out, _ = invoke("results", "export", "--format", "json", "--where", expression)
    passed = {(row["ticker"], row["analysis_date"]) for row in json.loads(out)}
    expected = set()
    for row in every:
        indicators = json.loads(
            store.find_result(filled, row["ticker"], on=row["analysis_date"])["raw_payload"]  # type: ignore[index]
        )["indicators"]
        if row["close"] > indicators["sma_50"] or row["verdict"] == "HOLD":
            expected.add((row["ticker"], row["analysis_date"]))
    assert code == 0 and passed == expected and 0 < len(passed) < len(every)
    # the watchlist: the latest result of each followed ticker; one never analysed never passes
    assert invoke("watchlist", "add", "TCS.NS", "INFY.NS", "LT.NS", "NEW.NS")[0] == 0
    code, out, _ = invoke("results", "latest", "--where", expression, "--json")
    latest = {row["ticker"] for row in json.loads(out)["results"]}
    code, out, _ = invoke("watchlist", "list", "--where", expression, "--json")
    listed = {row["ticker"] for row in json.loads(out)["watchlist"]}
    assert code == 0 and listed == latest & {"TCS.NS", "INFY.NS", "LT.NS"}
    code, _, err = invoke("watchlist", "list", "--where", "score > 100")
    assert code == 0 and "No followed ticker's latest result matches --where 'score > 100'" in err
    code, _, err = invoke("results", "export", "--format", "csv", "--where", "score >")
    assert code == 2 and err.startswith("Error: --where: expected a value")


# --- --sort, --limit, --columns ---------------------------------------------------------------


def test_sort_and_limit_order_the_newest_rows_nulls_last(filled: sqlite3.Connection) -> None:
    code, out, _ = invoke("results", "latest", "--json")
    every = json.loads(out)["results"]
    code, out, _ = invoke("results", "latest", "--json", "--sort", "-volume_ratio_20,rsi_14")
    rows = json.loads(out)["results"]
    assert code == 0
    expected = sorted(every, key=lambda r: (-r["volume_ratio_20"], r["rsi_14"], r["ticker"]))
    assert [r["ticker"] for r in rows] == [r["ticker"] for r in expected]
    code, out, _ = invoke("results", "latest", "--json", "--sort", "stop_pct", "--limit", "3")
    rows = json.loads(out)["results"]
    with_stop = sorted((r for r in every if r["stop_pct"] is not None),
                       key=lambda r: (r["stop_pct"], r["ticker"]))  # fmt: skip
    without = sorted(r["ticker"] for r in every if r["stop_pct"] is None)
    assert [r["ticker"] for r in rows] == ([r["ticker"] for r in with_stop] + without)[:3]


def test_the_table_shows_what_a_trader_sorts_on_and_columns_picks(
    filled: sqlite3.Connection,
) -> None:
    code, out, _ = invoke("results", "latest")
    header = out.splitlines()[1].split()
    assert code == 0 and header[:6] == ["ticker", "date", "score", "verdict", "side", "close"]
    assert "RSI" in header and "ATR" in header and "ratio" in header and "entry" not in header
    code, out, _ = invoke("results", "latest", "--columns", "ticker,entry,reward_risk,rsi_14")
    assert code == 0 and out.splitlines()[1].split() == ["ticker", "entry", "r:r", "RSI"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sort", "rsi"], "Error: --sort: unknown field 'rsi'; known fields: date, score"),
        (["--sort", "score,"], "Error: --sort 'score,': an empty field"),
        (["--columns", "ticker,nope"], "Error: --columns: unknown column 'nope'"),
        (["--limit", "0"], "Error: --limit '0'"),
    ],
)
def test_bad_sort_columns_or_limit_is_exit_2_before_the_database_is_opened(
    isolated: Path, args: list[str], message: str
) -> None:
    missing = isolated / "nowhere.db"
    done = subprocess.run([STOCKSCAN, "results", "latest", "--db", str(missing), *args],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 2 and done.stderr.startswith(message), done.stderr
    assert len(done.stderr.splitlines()) == 1 and not missing.exists()


# --- saved screens ------------------------------------------------------------------------------


def test_saved_screens_round_trip_and_list_as_where_does(filled: sqlite3.Connection) -> None:
    expression, sort = "close > sma_50 or verdict in (HOLD, SELL)", "-rsi_14,ticker"
    assert invoke("screen", "save", "mine", expression, "--sort", sort)[0] == 0
    assert invoke("screen", "save", "other", "score > 0")[0] == 0
    code, out, _ = invoke("screen", "list", "--json")
    saved = json.loads(out)["screens"]
    assert code == 0 and [s["name"] for s in saved] == ["mine", "other"]
    assert (saved[0]["expression"], saved[0]["sort"]) == (expression, sort)
    assert saved[1]["sort"] is None
    code, out, _ = invoke("screen", "show", "mine", "--json")
    assert code == 0 and json.loads(out) == saved[0]
    by_name = json.loads(invoke("results", "latest", "--screen", "mine", "--json")[1])
    by_where = json.loads(
        invoke("results", "latest", "--where", expression, "--sort", sort, "--json")[1]
    )
    assert by_name["results"] == by_where["results"] and by_name["results"]
    # --sort given wins over the saved one; --where and --screen must both pass
    code, out, _ = invoke("results", "latest", "--screen", "mine", "--sort", "ticker", "--json")
    tickers = [r["ticker"] for r in json.loads(out)["results"]]
    assert tickers == sorted(r["ticker"] for r in by_name["results"])
    code, out, _ = invoke("results", "latest", "--screen", "mine", "--where", "verdict = HOLD",
                          "--json")  # fmt: skip
    assert {r["ticker"] for r in json.loads(out)["results"]} == {
        r["ticker"] for r in by_name["results"] if r["verdict"] == "HOLD"
    }
    exported = json.loads(invoke("results", "export", "--format", "json", "--screen", "mine")[1])
    every = json.loads(invoke("results", "export", "--format", "json", "--where", expression)[1])
    assert exported == every
    # saving again replaces; removing removes
    code, _, err = invoke("screen", "save", "mine", "score > 50")
    assert code == 0 and "Replaced screen mine." in err
    assert json.loads(invoke("screen", "show", "mine", "--json")[1])["sort"] is None
    assert invoke("screen", "remove", "mine")[0] == 0
    code, _, err = invoke("screen", "remove", "mine")
    assert code == 2 and err.startswith("Error: no screen 'mine'")
    code, _, err = invoke("results", "latest", "--screen", "mine")
    assert code == 2 and err.startswith("Error: --screen 'mine': no such screen (screens: other)")


def test_a_bad_screen_is_never_saved(isolated: Path) -> None:
    db = isolated / "s.db"
    for args, message in (
        (["x", "score >"], "Error: --where: expected a value"),
        (["x", "score > 1", "--sort", "nope"], "Error: --sort: unknown field 'nope'"),
        (["bad name", "score > 1"], "Error: screen name 'bad name': expected"),
    ):
        done = subprocess.run([STOCKSCAN, "screen", "save", *args, "--db", str(db)],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 2 and done.stderr.startswith(message), done.stderr
        assert not db.exists()


def test_scan_with_a_screen_prints_after_the_job_the_stocks_that_pass(tmp_path: Path) -> None:
    db = tmp_path / "scan.db"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([STOCKSCAN, *args, "--db", str(db)], capture_output=True,
                              text=True, timeout=120)  # fmt: skip

    assert run("watchlist", "add", *TICKERS).returncode == 0
    assert run("screen", "save", "up", "close > sma_50", "--sort", "-rsi_14").returncode == 0
    # a screen that does not exist: exit 2 before any job
    done = run("scan", "--source", "demo", "--quiet", "--screen", "nope")
    assert done.returncode == 2 and "no such screen (screens: up)" in done.stderr
    assert sqlite3.connect(db).execute("SELECT count(*) FROM analysis_jobs").fetchone() == (0,)
    done = run("scan", "--source", "demo", "--quiet", "--screen", "up")
    assert done.returncode == 0, done.stderr
    expected = json.loads(run("results", "latest", "--screen", "up", "--json").stdout)["results"]
    lines = done.stdout.splitlines()
    title = next(i for i, line in enumerate(lines) if line.startswith("Passing screen up:"))
    assert lines[title] == f"Passing screen up: {len(expected)} of {len(TICKERS)}"
    listed = [line.split()[0] for line in lines[title + 2 : title + 2 + len(expected)]]
    assert listed == [row["ticker"] for row in expected] and expected
    done = run("scan", "--source", "demo", "--json", "--screen", "up")
    assert done.returncode == 2 and "--screen and --json: choose one" in done.stderr
    oracle(db)


def test_the_twelve_ready_screens_of_the_docs_compile() -> None:
    text = (Path(__file__).resolve().parents[1] / "docs" / "screens.md").read_text()
    ready = text.split("## Twelve ready screens")[1].split("## At scale")[0]
    found = re.findall(r'`--where "([^"]+)"(?: --sort (\S+?))?(?: --limit \d+)?`', ready)
    assert len(found) == 12
    for expression, sort in found:
        compiled = compile_where(expression)
        assert compiled.sql and (not sort or compile_sort(sort).sql)


def test_report_keeps_the_stocks_that_pass_and_every_failure(
    filled: sqlite3.Connection, tmp_path: Path
) -> None:
    from stockscan.charts.report import gather

    job = store.get_job(filled, store.newest_job_id(filled) or 0)
    assert job is not None
    expression = "close > sma_50"
    compiled = compile_where(expression)
    with transaction(filled):  # a failed stock in the job: it stays whatever the screen
        filled.execute(
            "INSERT INTO analysis_jobs_details (job_id, ticker, position, status, error_kind,"
            " error_message) VALUES (?, 'BAD.NS', 99, 'failed', 'no_data', 'none')",
            (job["id"],),
        )
        filled.execute("UPDATE analysis_jobs SET failed = failed + 1 WHERE id = ?", (job["id"],))
    report = gather(filled, job, where=(compiled.sql, compiled.params))
    passing = {r["ticker"] for r in json.loads(invoke("results", "latest", "--where",
               expression, "--json")[1])["results"]}  # fmt: skip
    assert {s["ticker"] for s in report.stocks} == passing | {"BAD.NS"}
    assert 0 < len(passing) < len(TICKERS)
    sql, params = store.job_passing_query(job["id"], (compiled.sql, compiled.params))
    steps = [row[3] for row in filled.execute("EXPLAIN QUERY PLAN " + sql, params)]
    assert all(step.startswith("SEARCH ") for step in steps), steps
    code, _, err = invoke("report", "--latest", "-o", str(tmp_path / "r.html"), "--where", "x >")
    assert code == 2 and err.startswith("Error: --where: unknown name 'x'")
    assert not (tmp_path / "r.html").exists()
    # and a valid screen writes the page of the stocks that pass, and only theirs
    code, _, err = invoke(
        "report", "--latest", "-o", str(tmp_path / "r.html"), "--where", expression
    )
    assert code == 0, err
    page = (tmp_path / "r.html").read_text()
    assert all(html.escape(ticker) in page for ticker in passing)
    assert not any(html.escape(ticker) in page for ticker in set(TICKERS) - passing)
