"""Issue 21 through real processes: --sides, --shortable, --max-position-pct and --bands, their
bad input (exit 2, nothing written; a warning naming a bad line) and the plan on the screen,
in --json and in results show."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest

from tests.conftest import oracle, run_cli

PLAN_LINE = re.compile(r"^(\S+)\s+[\d.]+\s+(\w+)\s+\d{4}-\d\d-\d\d\s+(.*)$")


def _csv(path: Path, start: float, step: float, bars: int = 280) -> None:
    """Daily bars moving by ``step`` (a fraction) a day, with a small wiggle."""
    rows, close = [], start
    for i in range(bars):
        day = f"2026-{1 + i // 28:02d}-{1 + i % 28:02d}"
        wiggle = 0.004 * math.sin(i)
        close = close * (1 + step + wiggle)
        high, low = close * 1.006, close * 0.994
        rows.append(f"{day},{close:.2f},{high:.2f},{low:.2f},{close:.2f},{10000 + 100 * i}")
    path.write_text("Date,Open,High,Low,Close,Volume\n" + "\n".join(rows) + "\n")


@pytest.fixture
def prices(tmp_path: Path) -> Path:
    data = tmp_path / "prices"
    data.mkdir()
    _csv(data / "FALL.NS.csv", 900.0, -0.004)  # a steady fall: a short verdict
    _csv(data / "SLIDE.NS.csv", 300.0, -0.004)
    _csv(data / "RISE.NS.csv", 40.0, 0.004)  # a steady rise: a long verdict
    return data


def _lines(stdout: str) -> dict[str, tuple[str, str]]:
    found = {}
    for line in stdout.splitlines():
        match = PLAN_LINE.match(line)
        if match and match.group(1).endswith(".NS"):
            found[match.group(1)] = (match.group(2), match.group(3))
    return found


def _analyze(prices: Path, *args: str) -> tuple[int, str, str]:
    done = run_cli(
        "analyze", "--source", "csv", "--data-dir", str(prices), "FALL.NS", "SLIDE.NS",
        "RISE.NS", *args,
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr


def test_long_only_by_default_and_both_with_a_shortable_list(
    tmp_path: Path, db_path: Path, prices: Path
) -> None:
    code, out, err = _analyze(prices)
    assert code == 0, err
    lines = _lines(out)
    for ticker in ("FALL.NS", "SLIDE.NS"):
        verdict, plan = lines[ticker]
        assert verdict in ("SELL", "STRONG_SELL"), lines
        assert "avoid / exit if held: long-only job (--sides long)" in plan
        assert "short entry" not in plan and "qty" not in plan
    verdict, plan = lines["RISE.NS"]
    assert verdict in ("BUY", "STRONG_BUY") and plan.startswith("long entry"), plan
    # The job's tables give an avoided plan no levels: the summary after the run, jobs show.
    summary = {line.split()[0]: line.split() for line in out.splitlines() if "2026-" in line}
    assert summary["FALL.NS"][4:8] == ["avoid", "-", "-", "-"], summary
    assert summary["RISE.NS"][4] == "long" and summary["RISE.NS"][5] != "-", summary
    shown = run_cli("jobs", "show", "1").stdout
    assert re.search(r"  parameters  capital 100000, risk 1%, .*sides long, cap 20%\n", shown)
    row = next(line.split() for line in shown.splitlines() if " FALL.NS " in line)
    assert row[6:10] == ["-", "-", "-", "0"], row

    # NSE's F&O list as it is: a header with a SYMBOL column, bare symbols, a comment, a blank
    # line and a line that is not a ticker (a warning naming it; the rest is used).
    fo = tmp_path / "fo_mktlots.csv"
    fo.write_text(
        "UNDERLYING,SYMBOL,DEC-26,JAN-27\n# index rows first\nNIFTY 50,NIFTY,75,75\n\n"
        "FALL LTD,FALL,500,500\nBROKEN LTD,not a ticker!,1,1\n"
    )
    code, out, err = _analyze(prices, "--sides", "both", "--shortable", str(fo))
    assert code == 0, err
    assert f"Warning: {fo}:6: 'not a ticker!' is not a ticker; line left out" in err
    lines = _lines(out)
    assert re.match(
        r"short entry [\d.]+ stop [\d.]+ target [\d.]+ qty [1-9]\d*", lines["FALL.NS"][1]
    )
    assert (
        "avoid / exit if held: not shortable (not in the --shortable list)" in lines["SLIDE.NS"][1]
    )

    shown = run_cli("jobs", "show", "2", "--json")
    document = json.loads(shown.stdout)
    params = document["job"]["params"]
    assert params["sides"] == "both" and params["shortable"] == ["FALL.NS"]
    by_ticker = {s["ticker"]: s for s in document["stocks"]}
    assert by_ticker["FALL.NS"]["position"]["action"] == "short"
    assert by_ticker["SLIDE.NS"]["position"]["action"] == "avoid"
    assert by_ticker["SLIDE.NS"]["quantity"] == 0
    oracle(db_path)


def test_a_binding_cap_and_a_band_on_the_screen_and_in_results_show(
    tmp_path: Path, db_path: Path, prices: Path
) -> None:
    bands = tmp_path / "bands.csv"
    bands.write_text("SYMBOL,BAND\nRISE,2\nFALL.NS,No Band\nSLIDE,7\n")
    code, out, err = _analyze(prices, "--max-position-pct", "1", "--bands", str(bands))
    assert code == 0, err
    assert f"Warning: {bands}:4: band '7' for SLIDE is not one of 2, 5, 10, 20 or none" in err
    plan = _lines(out)["RISE.NS"][1]
    assert "[capped at 1% of capital (1,000.00): risk " in plan, plan
    assert "stop " in plan and "beyond the 2% price band" in plan, plan

    shown = run_cli("results", "show", "RISE.NS", "--json")
    assert shown.returncode == 0, shown.stderr
    doc = json.loads(shown.stdout)
    position = doc["position"]
    assert position["sides"] == "long" and position["max_position_pct"] == 1.0
    assert position["capped"] is True and position["band"] == 2
    assert position["quantity"] * doc["plan"]["entry"] <= 1_000.0
    assert any("beyond the 2% price band" in note for note in position["notes"])
    assert doc["plan"]["tick"] == 0.01 and doc["plan"]["tick_rule"].startswith("NSE tick 0.01")
    text = run_cli("results", "show", "RISE.NS").stdout
    assert "capped at 1% of capital" in text and "prices on the tick: NSE tick 0.01" in text
    fall = json.loads(run_cli("results", "show", "FALL.NS", "--json").stdout)["position"]
    assert fall["action"] == "avoid" and fall["band"] == "none"
    oracle(db_path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-position-pct", "0"], "--max-position-pct 0: must be above 0 and at most 100"),
        (["--max-position-pct", "100.5"], "--max-position-pct 100.5: must be above 0"),
        (["--max-position-pct", "-5"], "--max-position-pct -5: must be above 0"),
        (["--max-position-pct", "nan"], "--max-position-pct nan: must be above 0"),
        (["--sides", "both"], "--sides both needs --shortable FILE"),
        (["--shortable", "{missing}"], "--shortable needs --sides both"),
        (["--sides", "both", "--shortable", "{missing}"], "--shortable {missing}: no such file"),
        (["--bands", "{missing}"], "--bands {missing}: no such file"),
        (["--sides", "both", "--shortable", "{binary}"], "not a text file (UTF-8)"),
        (["--sides", "short"], "--sides 'short': expected one of long, both"),
    ],
)
def test_bad_plan_options_exit_2_and_write_nothing(
    tmp_path: Path, db_path: Path, args: list[str], message: str
) -> None:
    missing, binary = tmp_path / "nope.txt", tmp_path / "binary.txt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    fill = {"missing": str(missing), "binary": str(binary)}
    args = [a.format(**fill) for a in args]
    done = run_cli("analyze", "--source", "demo", "TCS.NS", *args)
    assert done.returncode == 2, done.stdout + done.stderr
    assert message.format(**fill) in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not db_path.exists()  # checked before the database is opened


def test_scan_takes_the_plan_options(tmp_path: Path, db_path: Path) -> None:
    assert run_cli("watchlist", "add", "TCS.NS", "INFY.NS").returncode == 0
    bad = run_cli("scan", "--source", "demo", "--max-position-pct", "101")
    assert bad.returncode == 2 and "--max-position-pct 101" in bad.stderr
    fo = tmp_path / "fo.txt"
    fo.write_text("INFY\n")
    done = run_cli("scan", "--source", "demo", "--sides", "both", "--shortable", str(fo), "--json")
    assert done.returncode == 0, done.stderr
    params = json.loads(done.stdout)["job"]["params"]
    assert params["sides"] == "both" and params["shortable"] == ["INFY.NS"]


def test_demo_end_to_end_plan_text(db_path: Path) -> None:
    """The new plan text from `stockscan analyze --source demo`: on the screen, in --json and
    in `results show --json`. Demo verdicts move with the date; twenty tickers give short and
    long verdicts alike (each at least one in every date tried)."""
    tickers = [f"T{i:02d}.NS" for i in range(20)]
    done = run_cli("analyze", "--source", "demo", *tickers)
    assert done.returncode == 0, done.stderr
    lines = _lines(done.stdout)
    shorts = [t for t, (verdict, _) in lines.items() if verdict in ("SELL", "STRONG_SELL")]
    longs = [t for t, (verdict, _) in lines.items() if verdict in ("BUY", "STRONG_BUY")]
    assert shorts and longs, lines
    for ticker in shorts:
        assert "avoid / exit if held: long-only job (--sides long)" in lines[ticker][1]
    as_json = run_cli("jobs", "show", "1", "--json")
    stocks = {s["ticker"]: s for s in json.loads(as_json.stdout)["stocks"]}
    for ticker in shorts:
        assert stocks[ticker]["position"]["action"] == "avoid"
        assert stocks[ticker]["quantity"] == 0
    for ticker in longs:
        position = stocks[ticker]["position"]
        assert position["action"] == "long"
        assert position["invested"] <= 20_000.0 and position["risk"] <= 1_000.0
        assert "price band unknown, not checked" in position["notes"]
    shown = json.loads(run_cli("results", "show", shorts[0], "--json").stdout)
    assert shown["position"]["notes"] == ["avoid / exit if held: long-only job (--sides long)"]
    assert shown["plan"]["tick_rule"].startswith("NSE tick ")
    oracle(db_path)


def test_the_plan_settings_are_the_jobs_and_survive_a_resume() -> None:
    from stockscan.jobs import JobRequest

    request = JobRequest(
        tickers=("INFY.NS", "TCS.NS"), source="demo", sides="both", max_position_pct=12.5,
        shortable=("INFY.NS",), bands=(("TCS.NS", 5), ("INFY.NS", "none")),
    )  # fmt: skip
    params = request.params()
    assert params["shortable"] == ["INFY.NS"]
    assert params["bands"] == {"INFY.NS": "none", "TCS.NS": 5}
    again = JobRequest.from_params(request.tickers, "demo", params)
    assert again.params() == params and again.key("2026-12-01", "2") == request.key(
        "2026-12-01", "2"
    )
    long_only = JobRequest(tickers=request.tickers, source="demo")
    assert long_only.params()["sides"] == "long" and "shortable" not in long_only.params()
    assert long_only.key("2026-12-01", "2") != request.key("2026-12-01", "2")
    # A job stored before these settings gets the defaults.
    old = JobRequest.from_params(("TCS.NS",), "demo", {"capital": 1e5, "risk_pct": 1.0})
    assert (old.sides, old.max_position_pct, old.shortable, old.bands) == ("long", 20.0, (), None)
