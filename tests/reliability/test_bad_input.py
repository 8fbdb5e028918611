"""Bad data in, one stock's error out, never a poisoned database: bad paths, bars dated in the
future, imported rows every reader must handle, and output files killed half-written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reliability.test_environment import read_only

STOCKSCAN = str(Path(sys.executable).parent / "stockscan")


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [STOCKSCAN, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def one_error(result: subprocess.CompletedProcess[str], code: int = 5) -> str:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert result.stderr.startswith("Error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and "Usage:" not in result.stderr
    return result.stderr


# --- paths -----------------------------------------------------------------------------------

COMMANDS = (
    ("analyze", "--source", "demo", "A.NS"),
    ("watchlist", "add", "A.NS"),
    ("db", "migrate"),
    ("jobs", "list"),
    ("results", "latest"),
)


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_read_only_data_directory_is_exit_5_naming_it(tmp_path: Path, args: tuple[str]) -> None:
    xdg = tmp_path / "xdg"
    xdg.mkdir()
    env = {"XDG_DATA_HOME": str(xdg), "STOCKSCAN_DB": ""}
    with read_only(xdg):
        result = cli(*args, env=env)
    error = one_error(result)
    assert str(xdg / "stockscan") in error
    assert not (xdg / "stockscan").exists()


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_a_database_path_that_is_a_directory_is_exit_5_naming_it(
    tmp_path: Path, args: tuple[str]
) -> None:
    folder = tmp_path / "folder"
    folder.mkdir()
    for how in ({"STOCKSCAN_DB": str(folder)}, None):
        command = (*args, "--db", str(folder)) if how is None else args
        error = one_error(cli(*command, env=how))
        assert error == f"Error: cannot open database {folder}: it is a directory\n"
    assert list(folder.iterdir()) == []


# --- every reader handles every row the importer writes --------------------------------------


def imported_db(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A database with everything `db import-legacy` writes (tests/test_legacy.py's old file),
    and one stockscan result after an imported one of the same ticker (INFY.NS); TCS.NS keeps
    two imported days, the newest without a close."""
    from tests.test_legacy import make_old_db

    old = tmp_path / "old"
    old.mkdir()
    db = tmp_path / "imported.db"
    env = {"STOCKSCAN_DB": str(db)}
    imported = cli("db", "import-legacy", str(make_old_db(old / "stocks.db")), env=env)
    assert imported.returncode == 0, imported.stderr
    return db, env


def read_commands(db: Path, out: Path) -> list[tuple[str, ...]]:
    import sqlite3

    conn = sqlite3.connect(db)
    tickers = [r[0] for r in conn.execute("SELECT DISTINCT ticker FROM analysis_results")]
    job_ids = [str(r[0]) for r in conn.execute("SELECT id FROM analysis_jobs")]
    conn.close()
    commands: list[tuple[str, ...]] = [
        ("results", "latest"), ("results", "latest", "--json"), ("results", "latest", "--csv"),
        ("results", "changes"), ("results", "changes", "--json"),
        ("results", "changes", "--since", "2024-01-01"),
        ("results", "changes", "--since", "2024-01-01", "--json"),
        ("report", "--latest", "-o", str(out / "latest.html"), "--force"),
        ("watchlist", "list"), ("watchlist", "list", "--json"),
        ("jobs", "list"), ("jobs", "list", "--json"),
    ]  # fmt: skip
    for fmt in ("csv", "json", "ndjson"):
        commands.append(("results", "export", "--format", fmt))
        commands.append(("results", "export", "--format", fmt, "-o", str(out / f"all.{fmt}"),
                         "--force"))  # fmt: skip
    for ticker in tickers:
        commands += [
            ("results", "history", ticker), ("results", "history", ticker, "--json"),
            ("results", "show", ticker), ("results", "show", ticker, "--json"),
            ("results", "chart", ticker, "--width", "100"),
        ]  # fmt: skip
    for job_id in job_ids:
        commands += [
            ("jobs", "show", job_id), ("jobs", "show", job_id, "--json"),
            ("report", "--job", job_id, "-o", str(out / f"job-{job_id}.html"), "--force"),
        ]  # fmt: skip
    return commands


def test_every_read_command_handles_every_row_the_importer_writes(tmp_path: Path) -> None:
    db, env = imported_db(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    failures = []
    # the newest job is the import itself
    only_imported = [
        ("report", "--latest", "-o", str(out / "imported.html")),
        ("results", "changes", "--since", "2024-01-01"),
        ("results", "changes", "--since", "2024-01-01", "--json"),
    ]
    for command in only_imported:
        result = cli(*command, env=env)
        if result.returncode != 0 or "Traceback" in result.stderr:
            failures.append((" ".join(command), result.returncode, result.stderr[-300:]))
    analysed = cli("analyze", "--source", "demo", "INFY.NS", env=env)
    assert analysed.returncode == 0, analysed.stderr
    commands = read_commands(db, out)
    for command in commands:
        result = cli(*command, env=env)
        if command[1] == "chart" and command[2] != "INFY.NS":
            # an imported result has no bars to draw: said in one line, exit 2
            if result.returncode == 2 and result.stderr.endswith(
                "imported from the old system, which kept no price bars\n"
            ):
                continue
        if result.returncode != 0 or "Traceback" in result.stderr:
            failures.append((" ".join(command), result.returncode, result.stderr[-300:]))
    print(f"{len(only_imported) + len(commands)} read commands, {len(failures)} failed")
    assert failures == [], "\n".join(map(str, failures))


# --- output files: killed half-written, and symlinks ----------------------------------------


def many_results(db: Path, count: int = 150_000) -> Path:
    """``count`` results written by SQL (an export reads only analysis_results): an export
    that takes long enough to be killed in the middle."""
    import sqlite3

    from stockscan import store

    store.open(db).close()
    conn = sqlite3.connect(db)
    rows = (
        (f"T{i // 300:05d}.NS", f"2025-{1 + i % 300 // 28:02d}-{1 + i % 28:02d}")
        for i in range(count)
    )
    conn.executemany(
        "INSERT OR IGNORE INTO analysis_results (ticker, analysis_date, status, score, verdict,"
        " side, close, analysis_source, scoring_version, bars_used, created_at, updated_at)"
        " VALUES (?, ?, 'complete', 50, 'HOLD', 'none', 10, 'csv', '1', 300, 'x', 'x')",
        rows,
    )
    conn.commit()
    conn.close()
    return db


def kill_while_writing(args: list[str], env: dict[str, str], folder: Path) -> None:
    """Start an export and SIGKILL it once it has a file open in ``folder``."""
    import signal
    import time

    proc = subprocess.Popen(
        args, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            links = [os.readlink(f"/proc/{proc.pid}/fd/{fd}")
                     for fd in os.listdir(f"/proc/{proc.pid}/fd")]  # fmt: skip
        except OSError:
            links = []
        if any(link.startswith(str(folder)) for link in links):
            time.sleep(0.05)
            break
        time.sleep(0.005)
    assert proc.poll() is None, "the export finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


@pytest.mark.parametrize("unnamed", [True, False], ids=["O_TMPFILE", "named temporary"])
def test_an_export_killed_half_way_leaves_nothing_that_accumulates(
    tmp_path: Path, unnamed: bool
) -> None:
    from tests.reliability.conftest import harness_cmd

    db = many_results(tmp_path / "big.db")
    out = tmp_path / "out"
    out.mkdir()
    target = out / "all.json"
    env = {"STOCKSCAN_DB": str(db)}
    config = "{}" if unnamed else '{"no_o_tmpfile": true}'
    args = [*harness_cmd("results", "export", "--format", "json", "-o", str(target))]
    kills = 3
    for _ in range(kills):
        kill_while_writing(args, {**env, "STOCKSCAN_HARNESS": config}, out)
    left = sorted(p.name for p in out.iterdir())
    print(f"{kills} kills ({'O_TMPFILE' if unnamed else 'named'}): {len(left)} files left")
    if unnamed:
        assert left == []  # an unnamed file vanishes with the process
    else:
        # each write removes what the killed ones before it left: only the last kill's remains
        assert len(left) == 1 and left[0].startswith(".all.json."), left
    # a concurrent export's temporary file (its pid is alive: this test's) is left alone
    alive = out / f".all.json.{os.getpid()}.tmp"
    alive.write_text("being written")
    other = out / ".other.json.1.tmp"  # not this output's name: not ours to delete
    other.write_text("x")
    done = cli("results", "export", "--format", "json", "-o", str(target), env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted([alive.name, other.name, target.name])
    assert target.read_text().startswith("[")


def test_an_output_that_is_a_symlink_is_followed(tmp_path: Path) -> None:
    """`-o LINK` writes the file the link points to (atomically, in that file's directory)
    and leaves the link a link; without --force an existing target is refused as a file."""
    db = tmp_path / "db.sqlite"
    env = {"STOCKSCAN_DB": str(db)}
    assert cli("analyze", "--source", "demo", "A.NS", "B.NS", env=env).returncode == 0
    shared = tmp_path / "shared"
    shared.mkdir()
    real = shared / "latest.csv"
    real.write_text("old\n")
    link = tmp_path / "latest.csv"
    link.symlink_to(real)
    refused = cli("results", "export", "--format", "csv", "-o", str(link), env=env)
    assert one_error(refused, 2) == (
        f"Error: --output {link}: file exists (add --force to overwrite it)\n"
    )
    forced = cli("results", "export", "--format", "csv", "-o", str(link), "--force", env=env)
    assert forced.returncode == 0, forced.stderr
    assert link.is_symlink() and link.resolve() == real
    assert real.read_text().startswith("id,ticker,") and real.read_text().count("\n") == 3
    assert sorted(p.name for p in shared.iterdir()) == ["latest.csv"]
    # a dangling link: the file it names is created
    real.unlink()
    made = cli("results", "export", "--format", "csv", "-o", str(link), env=env)
    assert made.returncode == 0, made.stderr
    assert link.is_symlink() and real.read_text().startswith("id,ticker,")
    # the report goes through the same helper
    report = cli("report", "--latest", "-o", str(link), "--force", env=env)
    assert report.returncode == 0, report.stderr
    assert link.is_symlink() and real.read_text().startswith("<!DOCTYPE html>")


# --- bars dated after the market date --------------------------------------------------------


def csv_with_last_bar(directory: Path, ticker: str, last: str) -> None:
    """Two years of weekday bars up to 2026-11-27, then one bar dated ``last``."""
    import numpy as np

    from stockscan.sources.demo import demo_bars

    bars = demo_bars(ticker, np.datetime64("2026-11-27", "D"))
    lines = ["Date,Open,High,Low,Close,Volume"]
    columns = zip(bars.dates, bars.open, bars.high, bars.low, bars.close, bars.volume, strict=True)
    lines += [",".join(str(value) for value in row) for row in columns]
    close = float(bars.close[-1])
    lines.append(f"{last},{close},{close * 1.01},{close * 0.99},{close},1000")
    (directory / f"{ticker}.csv").write_text("\n".join(lines) + "\n")


def test_a_bar_dated_after_the_market_date_is_bad_data_and_never_a_result(tmp_path: Path) -> None:
    import datetime as dt
    import json

    from stockscan.market import market_today

    data = tmp_path / "prices"
    data.mkdir()
    tomorrow = (market_today() + dt.timedelta(days=1)).isoformat()
    csv_with_last_bar(data, "FAR.NS", "2099-12-31")
    csv_with_last_bar(data, "NEXT.NS", tomorrow)
    env = {"STOCKSCAN_DB": str(tmp_path / "db.sqlite")}
    assert cli("watchlist", "add", "FAR.NS", "NEXT.NS", env=env).returncode == 0
    # analyze, and scan (which keeps a result it already has for the same market date)
    for command in (["analyze", "FAR.NS", "NEXT.NS"], ["scan"]):
        ran = cli(*command, "--source", "csv", "--data-dir", str(data), "--json", env=env)
        assert ran.returncode == 4, ran.stderr
        stocks = {s["ticker"]: s for s in json.loads(ran.stdout)["stocks"]}
        assert stocks["FAR.NS"]["error_kind"] == "bad_data"
        assert "2099-12-31" in stocks["FAR.NS"]["error_message"]
        assert "after the current market date" in stocks["FAR.NS"]["error_message"]
        assert stocks["NEXT.NS"]["error_kind"] == "bad_data", stocks["NEXT.NS"]
    latest = cli("results", "latest", "--json", env=env)
    assert latest.returncode == 0 and json.loads(latest.stdout)["results"] == []


def test_a_weekend_bar_in_the_past_is_an_ordinary_bar(tmp_path: Path) -> None:
    """NSE and BSE do trade on weekends now and then (Muhurat trading on Sunday 2023-11-12,
    the Budget-day session on Saturday 2025-02-01): a weekend bar is real data, analysed like
    any other, and only a bar after the market date is refused."""
    import json

    data = tmp_path / "prices"
    data.mkdir()
    csv_with_last_bar(data, "SUN.NS", "2026-11-29")  # a Sunday, in the past
    env = {"STOCKSCAN_DB": str(tmp_path / "db.sqlite")}
    ran = cli("analyze", "--source", "csv", "--data-dir", str(data), "SUN.NS", env=env)
    assert ran.returncode == 0, ran.stderr
    latest = json.loads(cli("results", "latest", "--json", env=env).stdout)["results"]
    assert [(r["ticker"], r["analysis_date"]) for r in latest] == [("SUN.NS", "2026-11-29")]


def test_db_check_flags_results_dated_after_the_market_date_and_prune_removes_them(
    tmp_path: Path,
) -> None:
    """A database an earlier version poisoned: `db check` names the rows, exit 5; `db prune
    --future-dated` deletes them and fails the stock rows that wrote them."""
    import json
    import sqlite3

    from tests.conftest import oracle
    from tests.reliability.conftest import one

    db = tmp_path / "db.sqlite"
    env = {"STOCKSCAN_DB": str(db)}
    assert cli("analyze", "--source", "demo", "A.NS", "B.NS", env=env).returncode == 0
    assert cli("watchlist", "add", "A.NS", env=env).returncode == 0
    assert cli("db", "check", env=env).returncode == 0
    conn = sqlite3.connect(db)
    conn.execute("UPDATE analysis_results SET analysis_date = '2099-12-31' WHERE ticker = 'A.NS'")
    conn.commit()
    conn.close()
    checked = cli("db", "check", env=env)
    assert checked.returncode == 5
    assert "future_dated" in checked.stdout and "A.NS 2099-12-31" in checked.stdout
    assert checked.stderr == f"Error: {db}: check failed\n"
    document = json.loads(cli("db", "check", "--json", env=env).stdout)
    assert document["ok"] is False
    assert document["future_dated"] == [{"ticker": "A.NS", "analysis_date": "2099-12-31"}]

    dry = cli("db", "prune", "--future-dated", "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("Would delete 1 result dated after the market date")
    assert "1 stock row that wrote them become failed (bad_data), in 1 job (id 1)" in dry.stdout
    assert cli("db", "check", env=env).returncode == 5  # the dry run changed nothing
    pruned = cli("db", "prune", "--future-dated", "--json", env=env)
    assert pruned.returncode == 0, pruned.stderr
    future = json.loads(pruned.stdout)["future_dated"]
    assert future["results_deleted"] == 1 and future["details_failed"] == 1
    assert future["job_ids"] == [1] and future["watchlist_last_result_unlinked"] == 1
    assert cli("db", "check", env=env).returncode == 0
    assert one(db, "SELECT status, succeeded, failed FROM analysis_jobs") == ("partial", 1, 1)
    assert one(
        db, "SELECT status, error_kind FROM analysis_jobs_details WHERE ticker = 'A.NS'"
    ) == ("failed", "bad_data")
    latest = json.loads(cli("results", "latest", "--json", env=env).stdout)["results"]
    assert [r["ticker"] for r in latest] == ["B.NS"]
    oracle(db)
