"""Charts (issue 9): a result's bars from its own source only, the terminal chart (plotext) and
the HTML scan report (matplotlib), in-process and through the command line."""

from __future__ import annotations

import base64
import re
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from stockscan import jobs, store
from stockscan.analysis.indicators import sma
from stockscan.analysis.model import Bars
from stockscan.charts import INSTALL_HINT, require
from stockscan.charts.bars import ChartUnavailable, chart_data
from stockscan.charts.report import candlestick_png, gather, to_html
from stockscan.charts.terminal import render
from stockscan.cli import app
from stockscan.db import Connection, transaction
from stockscan.errors import EXIT_USAGE, StockError, UsageError
from stockscan.sources.cache import PriceCache
from stockscan.sources.demo import demo_bars
from tests.conftest import run_cli
from tests.fakes import FakeSource

runner = CliRunner()
ANSI = re.compile(r"\x1b\[")
PNG = b"\x89PNG\r\n\x1a\n"
FRIDAY, THURSDAY = "2026-11-27", "2026-11-26"
TICKERS = ("TCS.NS", "INFY.NS", "RELIANCE.NS", "SBIN.NS", "ITC.NS", "LT.NS", "WIPRO.NS")
IMAGE = re.compile(r"<img src='data:image/png;base64,([A-Za-z0-9+/=]+)'")


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def analyse(
    conn: Connection,
    day: str,
    *tickers: str,
    source: str = "demo",
    data_dir: Path | None = None,
    failures: dict[str, BaseException] | None = None,
    n: int = 0,
) -> jobs.JobOutcome:
    # A different capital per call makes each call its own job (a new request key).
    request = jobs.JobRequest(
        tickers=tickers,
        source=source,  # type: ignore[arg-type]
        capital=100_000 + n,
        data_dir=str(data_dir) if data_dir else None,
    )
    fake = FakeSource(name=source, end=np.datetime64(day, "D"), failures=failures or {})
    return jobs.run(conn, request, jobs.SilentReporter(), source=fake)


def result(conn: sqlite3.Connection, ticker: str) -> dict[str, Any]:
    row = store.find_result(conn, ticker)
    assert row is not None
    return row


def write_csv(directory: Path, ticker: str, bars: Bars) -> None:
    lines = ["Date,Open,High,Low,Close,Volume"]
    columns = zip(bars.dates, bars.open, bars.high, bars.low, bars.close, bars.volume, strict=True)
    lines += [",".join(str(value) for value in row) for row in columns]
    (directory / f"{ticker}.csv").write_text("\n".join(lines) + "\n")


@pytest.fixture
def demo_db(db_path: Path) -> Iterator[sqlite3.Connection]:
    """Demo results on Thursday, then Friday: the Friday job is the newest."""
    conn = store.open(db_path)
    analyse(conn, THURSDAY, *TICKERS, n=1)
    analyse(conn, FRIDAY, *TICKERS, n=2)
    yield conn
    conn.close()


# --- finding a result's bars ---------------------------------------------------------------


def test_demo_chart_is_the_result_s_own_bars_cut_at_its_date(
    demo_db: sqlite3.Connection,
) -> None:
    row = result(demo_db, "TCS.NS")
    data = chart_data(demo_db, row, count=90, data_dir=None)
    full = demo_bars("TCS.NS", np.datetime64(FRIDAY, "D"))
    assert len(data.bars) == 90 and str(data.bars.dates[-1]) == FRIDAY
    assert data.bars.close[-1] == row["close"]
    # The averages are the engine's own, over every bar, then cut to the bars shown.
    np.testing.assert_array_equal(data.sma_fast, sma(full.close, 20)[-90:])
    np.testing.assert_array_equal(data.sma_slow, sma(full.close, 50)[-90:])
    assert not np.isnan(data.sma_slow).any()
    assert data.verdict == row["verdict"] and data.score == row["score"]
    assert [name for name, _ in data.levels()] == ["entry", "stop", "target"] or (
        row["side"] == "none"
    )
    assert "(demo data)" in data.title


def test_an_older_result_is_charted_at_its_own_date(demo_db: sqlite3.Connection) -> None:
    row = store.find_result(demo_db, "TCS.NS", as_of=THURSDAY)
    assert row is not None
    data = chart_data(demo_db, row, count=30, data_dir=None)
    assert str(data.bars.dates[-1]) == THURSDAY and len(data.bars) == 30


def _as_yahoo(conn: sqlite3.Connection, ticker: str, auto_adjust: int | None) -> None:
    with transaction(conn):
        conn.execute(
            "UPDATE analysis_results SET analysis_source = 'yahoo', auto_adjust = ?"
            " WHERE ticker = ?",
            (auto_adjust, ticker),
        )


def _cache(conn: sqlite3.Connection, ticker: str, bars: Bars, auto_adjust: bool = True) -> None:
    import datetime as dt

    PriceCache(conn).save(
        "yahoo", ticker, auto_adjust, bars, fetched_at=dt.datetime.now(dt.UTC),
        exchange_tz=None, source_version="test", replace=True,
    )  # fmt: skip


def test_yahoo_chart_reads_the_price_cache_and_never_fetches(
    demo_db: sqlite3.Connection,
) -> None:
    _as_yahoo(demo_db, "TCS.NS", 1)
    full = demo_bars("TCS.NS", np.datetime64(FRIDAY, "D"))
    with pytest.raises(ChartUnavailable, match="no cached Yahoo bars"):
        chart_data(demo_db, result(demo_db, "TCS.NS"), count=60, data_dir=None)
    # Bars cached under the other auto_adjust choice are other prices: not used.
    _cache(demo_db, "TCS.NS", full, auto_adjust=False)
    with pytest.raises(ChartUnavailable, match="no cached Yahoo bars"):
        chart_data(demo_db, result(demo_db, "TCS.NS"), count=60, data_dir=None)
    _cache(demo_db, "TCS.NS", full)
    data = chart_data(demo_db, result(demo_db, "TCS.NS"), count=60, data_dir=None)
    assert data.source == "yahoo" and str(data.bars.dates[-1]) == FRIDAY
    assert "(demo data)" not in data.title


def test_yahoo_chart_refuses_changed_or_missing_bars(demo_db: sqlite3.Connection) -> None:
    full = demo_bars("TCS.NS", np.datetime64(FRIDAY, "D"))
    _as_yahoo(demo_db, "TCS.NS", None)
    with pytest.raises(ChartUnavailable, match="predates the price cache"):
        chart_data(demo_db, result(demo_db, "TCS.NS"), count=60, data_dir=None)
    _as_yahoo(demo_db, "TCS.NS", 1)
    # A split re-adjusted the history since the analysis: the close no longer matches.
    halved = Bars(full.dates, full.open / 2, full.high / 2, full.low / 2, full.close / 2,
                  full.volume * 2)  # fmt: skip
    _cache(demo_db, "TCS.NS", halved)
    with pytest.raises(ChartUnavailable, match="changed since the analysis"):
        chart_data(demo_db, result(demo_db, "TCS.NS"), count=60, data_dir=None)
    # The result's own bar was still moving when analysed and was never cached.
    older = Bars(full.dates[:-1], full.open[:-1], full.high[:-1], full.low[:-1],
                 full.close[:-1], full.volume[:-1])  # fmt: skip
    _cache(demo_db, "TCS.NS", older)
    with pytest.raises(ChartUnavailable, match=f"lack the result's market date {FRIDAY}"):
        chart_data(demo_db, result(demo_db, "TCS.NS"), count=60, data_dir=None)


def test_csv_chart_rereads_the_job_s_files(db_path: Path, tmp_path: Path) -> None:
    conn = store.open(db_path)
    data_dir = tmp_path / "prices"
    data_dir.mkdir()
    bars = demo_bars("TCS.NS", np.datetime64(FRIDAY, "D"))
    write_csv(data_dir, "TCS.NS", bars)
    analyse(conn, FRIDAY, "TCS.NS", source="csv", data_dir=data_dir)
    row = result(conn, "TCS.NS")
    data = chart_data(conn, row, count=40, data_dir=str(data_dir))
    assert data.source == "csv" and data.bars.close[-1] == row["close"]
    code, out, err = invoke("results", "chart", "TCS.NS", "--width", "80")
    assert code == 0, err
    assert "TCS.NS" in out and "(demo data)" not in out
    # The file was edited since: its prices are not the ones analysed.
    edited = Bars(bars.dates, bars.open, bars.high, bars.low, bars.close + 1, bars.volume)
    write_csv(data_dir, "TCS.NS", edited)
    with pytest.raises(ChartUnavailable, match="changed since the analysis"):
        chart_data(conn, row, count=40, data_dir=str(data_dir))
    (data_dir / "TCS.NS.csv").unlink()
    with pytest.raises(ChartUnavailable, match="cannot re-read its CSV"):
        chart_data(conn, row, count=40, data_dir=str(data_dir))
    with pytest.raises(ChartUnavailable, match="directory of this result is unknown"):
        chart_data(conn, row, count=40, data_dir=None)
    conn.close()


def test_imported_results_have_no_chart(demo_db: sqlite3.Connection) -> None:
    # What `db import-legacy` writes: no close, scoring version legacy, whatever the source.
    with transaction(demo_db):
        demo_db.execute(
            "UPDATE analysis_results SET scoring_version = 'legacy', legacy_result_id = 1,"
            " close = NULL WHERE ticker = 'TCS.NS'"
        )
    with pytest.raises(ChartUnavailable, match="imported from the old system"):
        chart_data(demo_db, result(demo_db, "TCS.NS"), count=60, data_dir=None)
    code, _, err = invoke("results", "chart", "TCS.NS", "--width", "100")
    assert code == EXIT_USAGE
    assert err.startswith("Error: TCS.NS") and "kept no price bars" in err
    assert err.count("\n") == 1


# --- the terminal chart --------------------------------------------------------------------


def test_terminal_chart_as_plain_text(demo_db: sqlite3.Connection) -> None:
    row = result(demo_db, "TCS.NS")
    data = chart_data(demo_db, row, count=60, data_dir=None)
    text = render(data, width=90, height=25, colour=False)
    assert not ANSI.search(text)
    lines = text.splitlines()
    assert all(len(line) <= 90 for line in lines)
    assert len(lines) >= 25
    assert data.title in lines[0]
    assert "SMA 20" in text and "SMA 50" in text
    assert FRIDAY in text  # the last date on the x axis
    for name, value in data.levels():
        assert f"{name} {value:.2f}" in lines[-1]
    # Candle bodies and wicks are drawn.
    assert "█" in text and "│" in text


def test_terminal_chart_in_colour_and_too_narrow(demo_db: sqlite3.Connection) -> None:
    data = chart_data(demo_db, result(demo_db, "SBIN.NS"), count=60, data_dir=None)
    assert ANSI.search(render(data, width=100, height=30, colour=True))
    with pytest.raises(UsageError, match="59 columns wide; the chart needs at least 60"):
        render(data, width=59, height=30, colour=True)


def test_chart_command_through_a_real_process(demo_db: sqlite3.Connection) -> None:
    # Not a terminal (a pipe): a clear message, no chart, exit 2.
    done = run_cli("results", "chart", "TCS.NS")
    assert done.returncode == EXIT_USAGE and done.stdout == ""
    assert done.stderr == (
        "Error: stdout is not a terminal: add --width COLUMNS to draw the chart as plain"
        " text, or use `stockscan report` for an HTML chart\n"
    )
    done = run_cli("results", "chart", "tcs.ns", "--width", "100", "--bars", "40")
    assert done.returncode == 0, done.stderr
    assert "TCS.NS 2026-11-27" in done.stdout and not ANSI.search(done.stdout)
    done = run_cli("results", "chart", "TCS.NS", "--width", "100", "--date", THURSDAY)
    assert done.returncode == 0 and "TCS.NS 2026-11-26" in done.stdout
    done = run_cli("results", "chart", "TCS.NS", "--width", "50")
    assert done.returncode == EXIT_USAGE and "50 columns wide" in done.stderr
    done = run_cli("results", "chart", "NOPE.NS", "--width", "100")
    assert done.returncode == EXIT_USAGE and "no results for NOPE.NS" in done.stderr


def test_chart_command_on_a_terminal(demo_db: sqlite3.Connection) -> None:
    """Through a pseudo-terminal, as over SSH: colour at the terminal's width, or a message
    when the terminal is too narrow."""
    import os
    import pty
    import subprocess

    def on_terminal(columns: int) -> tuple[int, str]:
        leader, follower = pty.openpty()
        env = {**os.environ, "COLUMNS": str(columns), "LINES": "30"}
        process = subprocess.Popen(
            [sys.executable, "-m", "stockscan", "results", "chart", "SBIN.NS"],
            stdin=subprocess.DEVNULL, stdout=follower, stderr=follower, env=env,
        )  # fmt: skip
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(leader)
        return process.wait(timeout=60), b"".join(chunks).decode()

    code, out = on_terminal(120)
    assert code == 0, out
    assert ANSI.search(out) and "SBIN.NS" in out and "entry" in out
    code, out = on_terminal(40)
    assert code == EXIT_USAGE and "40 columns wide" in out


def test_a_missing_chart_library_is_one_line_naming_the_extra(
    demo_db: sqlite3.Connection, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "plotext", None)  # import plotext raises ImportError
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(UsageError) as caught:
        require("plotext")
    assert caught.value.exit_code == EXIT_USAGE
    assert str(caught.value) == f"charts need plotext, which is not installed: {INSTALL_HINT}"
    code, _, err = invoke("results", "chart", "TCS.NS", "--width", "100")
    assert code == EXIT_USAGE
    assert err == f"Error: charts need plotext, which is not installed: {INSTALL_HINT}\n"
    output = tmp_path / "report.html"
    code, _, err = invoke("report", "--output", str(output))
    assert code == EXIT_USAGE and "pip install 'stockscan[charts]'" in err
    assert not output.exists()


# --- the HTML report -----------------------------------------------------------------------


def images(page: str) -> list[bytes]:
    return [base64.b64decode(data) for data in IMAGE.findall(page)]


def test_report_of_a_demo_scan(demo_db: sqlite3.Connection, tmp_path: Path) -> None:
    job = store.get_job(demo_db, 2)
    assert job is not None
    page = to_html(gather(demo_db, job))
    stocks = store.job_stocks(demo_db, 2)
    buy_side = [s for s in stocks if s["verdict"] in ("BUY", "STRONG_BUY")]
    assert buy_side, "the demo tickers must include a BUY-side verdict"
    # One non-empty PNG per BUY-side stock, and no other image.
    pngs = images(page)
    assert len(pngs) == len(buy_side) == page.count("<img ")
    for png in pngs:
        assert png.startswith(PNG) and len(png) > 5_000
    # The summary table lists every stock, best score first.
    summary = page.split("<table id='summary'>")[1].split("</table>")[0]
    order = re.findall(r"<tr><td>([A-Z.]+)</td>", summary)
    by_score = sorted(stocks, key=lambda s: (-s["score"], s["ticker"]))
    assert order == [s["ticker"] for s in by_score]
    assert "Demo data" in page and "DEMO" in summary
    # Self-contained: nothing is loaded from anywhere.
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:|//)""", page)
    assert "@import" not in page and "url(" not in page
    assert "None: every stock was analysed." in page


def test_report_changes_failures_and_escaping(db_path: Path, tmp_path: Path) -> None:
    conn = store.open(db_path)
    analyse(conn, THURSDAY, *TICKERS, n=1)
    with transaction(conn):  # Thursday's TCS.NS said HOLD: Friday's verdict is a move
        conn.execute(
            "UPDATE analysis_results SET verdict = 'HOLD' WHERE ticker = 'TCS.NS'"
            " AND analysis_date = ?",
            (THURSDAY,),
        )
    hostile = StockError("no_data", "<script>alert('x')</script> & friends")
    analyse(conn, FRIDAY, *TICKERS, "BAD.NS", failures={"BAD.NS": hostile}, n=2)
    job = store.get_job(conn, 2)
    assert job is not None
    page = to_html(gather(conn, job))
    friday = result(conn, "TCS.NS")
    assert f"HOLD → {friday['verdict']}" in page
    failures = page.split("<table id='failures'>")[1]
    assert "BAD.NS" in failures and "no_data" in failures
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; friends" in failures
    assert "<script>alert" not in page
    assert page.count("<script>") == 1  # the sorting script only
    conn.close()


def test_report_lists_a_buy_without_bars_with_the_reason(demo_db: sqlite3.Connection) -> None:
    job = store.get_job(demo_db, 2)
    assert job is not None
    buy = [s for s in store.job_stocks(demo_db, 2) if s["verdict"] in ("BUY", "STRONG_BUY")]
    _as_yahoo(demo_db, buy[0]["ticker"], 1)  # a Yahoo result with nothing in the cache
    report = gather(demo_db, job)
    assert isinstance(report.charts[buy[0]["ticker"]], str)
    page = to_html(report)
    assert len(images(page)) == len(buy) - 1
    assert "Chart unavailable:" in page and "no cached Yahoo bars" in page


def test_candlestick_png_is_deterministic(demo_db: sqlite3.Connection) -> None:
    data = chart_data(demo_db, result(demo_db, "SBIN.NS"), count=120, data_dir=None)
    first = candlestick_png(data)
    assert first == candlestick_png(data) and first.startswith(PNG)


def test_report_command(demo_db: sqlite3.Connection, tmp_path: Path) -> None:
    output = tmp_path / "scan.html"
    done = run_cli("report", "--latest", "--output", str(output))
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith(f"Wrote the report of job 2 to {output}: 7 stocks,")
    page = output.read_text()
    assert page.startswith("<!DOCTYPE html>") and "job 2" in page
    # An existing file is replaced only with --force; --job picks another job.
    done = run_cli("report", "--job", "1", "--output", str(output))
    assert done.returncode == EXIT_USAGE and "file exists" in done.stderr
    done = run_cli("report", "--job", "1", "--output", str(output), "--force")
    assert done.returncode == 0 and "job 1" in output.read_text()
    code, _, err = invoke("report", "--job", "7", "--output", str(tmp_path / "x.html"))
    assert code == EXIT_USAGE and err == f"Error: no job 7 in {demo_db_path(demo_db)}\n"
    code, _, err = invoke("report", "--job", "1", "--latest", "-o", str(tmp_path / "x.html"))
    assert code == EXIT_USAGE and "choose one" in err
    assert not (tmp_path / "x.html").exists()


def demo_db_path(conn: sqlite3.Connection) -> str:
    return str(conn.execute("PRAGMA database_list").fetchone()[2])


def test_report_on_an_empty_or_missing_database(db_path: Path, tmp_path: Path) -> None:
    output = tmp_path / "x.html"
    code, _, err = invoke("report", "-o", str(output))
    assert code != 0 and err.startswith("Error:")
    store.open(db_path).close()
    code, _, err = invoke("report", "-o", str(output))
    assert code == EXIT_USAGE and err == f"Error: no jobs in {db_path}\n"
    assert not output.exists()


def test_report_query_seeks_indexes(demo_db: sqlite3.Connection) -> None:
    sql, params = store.report_stocks_query(2)
    steps = [row[3] for row in demo_db.execute("EXPLAIN QUERY PLAN " + sql, params)]
    assert steps and not [step for step in steps if step.startswith("SCAN")], steps
