"""The command line: through CliRunner for shapes, through real processes for exit codes."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from stockscan.cli import app
from tests.conftest import oracle, run_cli

runner = CliRunner()
ANSI = re.compile(r"\x1b\[")
JOB_KEYS = set(
    "id status source params total succeeded failed skipped created_at started_at finished_at"
    " owner_pid owner_host run_date".split()
)
STOCK_KEYS = set(
    "ticker status error_kind error_message result_id score verdict entry stop target quantity"
    " analysis_date analysis_source".split()
)


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_every_command_has_help() -> None:
    def walk(group: typer.Typer, prefix: list[str]) -> list[list[str]]:
        found = []
        for command in group.registered_commands:
            found.append([*prefix, command.name or command.callback.__name__])  # type: ignore[union-attr]
            assert (command.callback.__doc__ or "").strip(), command.name  # type: ignore[union-attr]
        for sub in group.registered_groups:
            assert sub.typer_instance is not None and sub.name
            found += walk(sub.typer_instance, [*prefix, sub.name])
        return found

    commands = walk(app, [])
    assert ["analyze"] in commands and ["jobs", "show"] in commands
    for command in commands:
        code, out, _ = invoke(*command, "--help")
        assert code == 0 and "Usage" in out, command
        assert "Example" in out, f"{' '.join(command)} --help shows no example"
    code, out, _ = invoke("--help")
    assert "Exit codes" in out and "130" in out and "stockscan analyze --source demo" in out


def readme_exit_codes() -> list[tuple[int, str]]:
    """The rows of the README's table under "### Exit codes": (code, meaning)."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Exit codes\n", 1)[1].strip().split("\n\n", 1)[0]
    rows = [line.strip("|").split("|") for line in section.splitlines()[2:]]  # after the head
    return [(int(code.strip()), meaning.strip()) for code, meaning in rows]


def test_the_readme_lists_the_exit_codes_of_errors_py_with_their_meanings() -> None:
    from stockscan.errors import EXIT_CODES

    assert readme_exit_codes() == [(entry.code, entry.documented) for entry in EXIT_CODES]


def test_help_and_the_crontab_comment_say_what_errors_py_says_of_each_exit_code() -> None:
    from stockscan.errors import EXIT_CODES
    from stockscan.render.scan import cron_exit_codes

    code, out, _ = invoke("--help")
    assert code == 0
    text = " ".join(out.split())  # Rich may rewrap and pad the epilog
    for entry in EXIT_CODES:
        assert f"{entry.code} {entry.meaning}" in text, entry.code
    comment = " ".join(line.removeprefix("# ") for line in cron_exit_codes())
    listed = [entry for entry in EXIT_CODES if entry.cron]
    assert comment == "Exit codes: " + ", ".join(f"{e.code} {e.cron}" for e in listed) + "."
    assert {e.code for e in listed} >= {0, 1, 3, 4, 5, 75}


def test_analyze_demo_then_jobs_show_json(db_path: Path) -> None:
    code, out, err = invoke("analyze", "--source", "demo", "tcs.ns", " INFY.NS ", "TCS.NS")
    assert code == 0, err
    assert "demo" in out and "TCS.NS" in out and "INFY.NS" in out
    code, out, _ = invoke("jobs", "show", "1", "--json")
    assert code == 0
    document = json.loads(out)
    assert JOB_KEYS <= set(document["job"])
    assert document["job"]["status"] == "succeeded" and document["job"]["source"] == "demo"
    assert document["job"]["params"] == {
        "capital": 100000.0, "risk_pct": 1.0, "data_dir": None, "skip_unchanged": False,
        "sides": "long", "max_position_pct": 20.0,
    }  # fmt: skip
    assert [s["ticker"] for s in document["stocks"]] == ["TCS.NS", "INFY.NS"]  # order kept
    for stock in document["stocks"]:
        assert STOCK_KEYS <= set(stock)
        assert stock["analysis_source"] == "demo"
    code, out, _ = invoke("jobs", "list", "--json")
    assert [j["id"] for j in json.loads(out)["jobs"]] == [1]
    oracle(db_path)


def test_analyze_json_is_one_document(db_path: Path) -> None:
    code, out, _ = invoke("analyze", "--source", "demo", "A.NS", "--json")
    assert code == 0
    document = json.loads(out)
    assert document["job"]["id"] == 1 and document["stocks"][0]["ticker"] == "A.NS"


def test_jobs_show_in_a_table(db_path: Path) -> None:
    invoke("analyze", "--source", "demo", "A.NS", "--capital", "250000", "--risk-pct", "0.5")
    code, out, _ = invoke("jobs", "show", "1")
    assert code == 0
    assert "Job 1: succeeded" in out and "capital 250000, risk 0.5%" in out and "A.NS" in out


@pytest.mark.parametrize(
    "bad", ["TCS NS", "../etc", "A;DROP TABLE x", "'", "\x00", "x" * 30, "", "TCS.NS\x1b[31m"]
)
def test_invalid_tickers_exit_2_and_write_nothing(db_path: Path, bad: str) -> None:
    code, _, err = invoke("analyze", "--source", "demo", "GOOD.NS", bad)
    assert code == 2
    assert err.startswith("Error: ") and err.count("\n") == 1
    assert "ticker" in err or "no tickers" in err
    assert not db_path.exists()


def test_unknown_job_is_a_usage_error(db_path: Path) -> None:
    invoke("analyze", "--source", "demo", "A.NS")
    code, _, err = invoke("jobs", "show", "42")
    assert code == 2 and err.startswith("Error: no job 42")


def test_read_commands_do_not_create_a_database(db_path: Path) -> None:
    code, _, err = invoke("jobs", "list")
    assert code == 5 and "no database" in err
    assert not db_path.exists()


def test_db_commands(db_path: Path) -> None:
    from stockscan.migrations import MIGRATIONS

    code, out, _ = invoke("db", "migrate")
    assert code == 0 and f"schema version {len(MIGRATIONS)}" in out
    code, out, _ = invoke("db", "info", "--json")
    info = json.loads(out)
    assert info["schema_version"] == len(MIGRATIONS) and info["rows"]["analysis_jobs"] == 0
    code, out, _ = invoke("db", "check", "--json")
    assert code == 0 and json.loads(out)["ok"] is True


def test_db_check_fails_on_foreign_key_damage(db_path: Path) -> None:
    invoke("analyze", "--source", "demo", "A.NS")
    raw = sqlite3.connect(db_path)  # foreign_keys off: damage the way a careless tool would
    raw.execute("UPDATE analysis_results SET job_id = 999")
    raw.commit()
    raw.close()
    code, out, err = invoke("db", "check")
    assert code == 5 and "check failed" in err


# --- real processes --------------------------------------------------------------------------


def test_exit_codes_and_plain_output_through_a_real_process(tmp_path: Path, db_path: Path) -> None:
    ok = run_cli("analyze", "--source", "demo", "TCS.NS", "M&M.NS", "BAJAJ-AUTO.NS", "^NSEI")
    assert ok.returncode == 0, ok.stderr
    assert not ANSI.search(ok.stdout) and "Traceback" not in ok.stderr
    assert ok.stdout.count("[demo]") == 4

    data = tmp_path / "prices"
    data.mkdir()
    rows = [
        f"2026-{1 + i // 28:02d}-{1 + i % 28:02d},{100 + i},{101 + i},{99 + i},{100.5 + i},1000"
        for i in range(280)
    ]
    (data / "GOOD.NS.csv").write_text("Date,Open,High,Low,Close,Volume\n" + "\n".join(rows))
    some = run_cli("analyze", "--source", "csv", "--data-dir", str(data), "GOOD.NS", "GONE.NS")
    assert some.returncode == 1, some.stdout + some.stderr
    assert "GONE.NS" in some.stdout and "no_data" in some.stdout
    none = run_cli("analyze", "--source", "csv", "--data-dir", str(data), "GONE.NS")
    assert none.returncode == 4

    bad = run_cli("analyze", "--source", "demo", "bad ticker")
    assert bad.returncode == 2 and bad.stderr.startswith("Error: invalid ticker 'bad ticker'")
    usage = run_cli("analyze", "--source", "nosuch", "A.NS")
    assert usage.returncode == 2
    nodir = run_cli("analyze", "--source", "csv", "A.NS")
    assert nodir.returncode == 2 and "--data-dir" in nodir.stderr
    oracle(db_path)


def test_database_problems_exit_5_and_leave_the_file_alone(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not sqlite at all\n" * 200)
    before = junk.read_bytes()
    result = run_cli("analyze", "--source", "demo", "A.NS", "--db", str(junk))
    assert result.returncode == 5
    assert result.stderr == f"Error: {junk}: file is not a SQLite database\n"
    assert junk.read_bytes() == before and not Path(f"{junk}-wal").exists()

    missing = run_cli("analyze", "--source", "demo", "A.NS", "--db", str(tmp_path / "no" / "x.db"))
    assert missing.returncode == 5 and "directory does not exist" in missing.stderr


def test_read_commands_do_not_import_pandas_or_yfinance(db_path: Path) -> None:
    run_cli("db", "migrate")
    probe = (
        "import sys, atexit\n"
        "atexit.register(lambda: print(sorted(m for m in ('pandas', 'yfinance', 'numpy')"
        " if m in sys.modules), file=sys.stderr))\n"
        "sys.argv = ['stockscan', 'jobs', 'list']\n"
        "from stockscan.cli import main\n"
        "main()\n"
    )
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stderr.strip().splitlines()[-1] == "[]"


# --- a run imports only its own command's modules -------------------------------------------


def test_every_command_is_in_the_map_of_modules_that_register_it() -> None:
    """`main()` imports only the modules ``COMMANDS`` names for the command it runs: the whole
    app's commands and groups must be exactly the map's keys."""
    from stockscan import cli

    full = typer.main.get_command(app)
    assert isinstance(full, typer.core.TyperGroup)
    assert set(full.commands) == set(cli.COMMANDS)


@pytest.mark.parametrize("command", ["analyze", "scan", "cron", "watchlist", "results",
                                     "report", "jobs", "db"])  # fmt: skip
def test_a_command_alone_has_all_its_subcommands(command: str) -> None:
    """In a fresh process, registering one command gives it every subcommand it has in the
    whole app, and leaves the other groups' modules unimported."""
    import subprocess
    import sys

    probe = (
        "import json, sys, typer.main\n"
        "from stockscan import cli\n"
        f"group = typer.main.get_command(cli.register({command!r})).commands[{command!r}]\n"
        "print(json.dumps([sorted(getattr(group, 'commands', {})),"
        " sorted(m for m in sys.modules if m.startswith('stockscan.cli.'))]))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    subcommands, modules = json.loads(result.stdout)
    whole = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    assert subcommands == sorted(getattr(whole, "commands", {}))
    from stockscan import cli

    assert {f"stockscan.cli.{m}" for m in cli.COMMANDS[command]} <= set(modules)
    assert command == "db" or "stockscan.cli.db" not in modules  # not every module


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["jobs", "list"], "jobs"),
        (["--debug", "results", "latest"], "results"),
        (["--help"], None),
        (["--version"], None),
        (["--debug", "--help"], None),
        ([], None),
    ],
)
def test_the_command_of_a_command_line(args: list[str], command: str | None) -> None:
    from stockscan.cli import command_of

    assert command_of(args) == command


def test_analyze_builds_its_source_once_and_gives_it_the_jobs_price_cache(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import stockscan.sources
    from stockscan.sources.cache import PriceCache
    from tests.fakes import FakeSource

    class Recording(FakeSource):
        def use_cache(self, cache: PriceCache) -> None:
            self.caches.append(cache)

    built: list[Recording] = []

    def get_source(name: str, data_dir: Path | None = None, **options: object) -> Recording:
        built.append(Recording(name=name))
        built[-1].caches = []  # type: ignore[attr-defined]
        return built[-1]

    monkeypatch.setattr(stockscan.sources, "get_source", get_source)
    code, _, err = invoke("analyze", "--source", "demo", "A.NS", "B.NS")
    assert code == 0, err
    assert len(built) == 1 and built[0].calls == ["A.NS", "B.NS"]
    assert len(built[0].caches) == 1  # type: ignore[attr-defined]
