"""Everything in one install: the README's `pip install -e .` gives the charts too, no other
command pays for them at start-up, and a report with no chart to draw works even where
matplotlib is missing."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

from tests.conftest import run_cli
from tests.terminal import STOCKSCAN

ROOT = Path(__file__).resolve().parents[1]
CHART_LIBRARIES = ("matplotlib", "plotext")


def test_the_charts_are_default_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    names = {d.split(">")[0].split("<")[0].split("=")[0].strip() for d in project["dependencies"]}
    assert set(CHART_LIBRARIES) <= names


def imported(*args: str) -> set[str]:
    """The top-level modules a run of the console script imports (python -X importtime)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", str(STOCKSCAN), *args],
        capture_output=True, text=True, timeout=60, env=os.environ,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    modules = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            modules.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return modules


def test_no_other_command_imports_the_chart_libraries(db_path: Path) -> None:
    assert run_cli("analyze", "--source", "demo", "TCS.NS").returncode == 0
    for args in (["--help"], ["jobs", "list", "--json"], ["jobs", "list"], ["results", "latest"]):
        modules = imported(*args)
        assert "typer" in modules  # the measurement sees imports at all
        assert not modules & set(CHART_LIBRARIES), args


def hidden(tmp_path: Path, *modules: str) -> dict[str, str]:
    """An environment in which importing these modules fails, as where they are not installed."""
    shim = tmp_path / "shim"
    shim.mkdir(exist_ok=True)
    (shim / "sitecustomize.py").write_text(
        "import sys\n"
        "class Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {list(modules)!r}:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "        return None\n"
        "sys.meta_path.insert(0, Hide())\n"
    )
    return {**os.environ, "PYTHONPATH": str(shim)}


def test_a_report_with_no_chart_works_without_matplotlib(db_path: Path, tmp_path: Path) -> None:
    # TCS.NS (HOLD) and INFY.NS (SELL) on the demo source: nothing BUY-side, no chart.
    assert run_cli("analyze", "--source", "demo", "TCS.NS", "INFY.NS").returncode == 0
    env = hidden(tmp_path, "matplotlib")
    probe = subprocess.run([sys.executable, "-c", "import matplotlib"], env=env,
                           capture_output=True, text=True)  # fmt: skip
    assert probe.returncode != 0 and "No module named 'matplotlib'" in probe.stderr
    report = tmp_path / "report.html"
    done = subprocess.run(
        [str(STOCKSCAN), "report", "--latest", "-o", str(report)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Wrote the report of job 1" in done.stderr and "0 charts" in done.stderr
    page = report.read_text()
    assert "TCS.NS" in page and "INFY.NS" in page


def test_a_report_that_needs_a_chart_says_what_is_missing(db_path: Path, tmp_path: Path) -> None:
    assert run_cli("analyze", "--source", "demo", "RELIANCE.NS").returncode == 0  # a BUY
    report = tmp_path / "report.html"
    done = subprocess.run(
        [str(STOCKSCAN), "report", "--latest", "-o", str(report)],
        env=hidden(tmp_path, "matplotlib"), capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.startswith("Error: charts need matplotlib, which is not installed")
    assert len(done.stderr.splitlines()) == 1
    assert not report.exists()
