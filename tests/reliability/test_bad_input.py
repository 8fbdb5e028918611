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
