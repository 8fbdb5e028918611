"""kill -9 at every checkpoint of the per-stock write path, at random times, and faults injected
at the Nth source call, write and commit: the database is whole after each, and running the
same command again ends with exactly the rows of a clean run."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from stockscan.jobs import CHECKPOINTS
from tests.conftest import oracle
from tests.reliability.conftest import facts, harness, one, start_harness
from tests.reliability.soak import soak

THREE = ["T0001.NS", "T0002.NS", "T0003.NS"]
TWO = THREE[:2]
MANY = [f"R{i:04d}.NS" for i in range(300)]
SOURCE: dict[str, object] = {"source": {}}


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[tuple[object, ...]]]:
    """The facts of uninterrupted runs, to compare every recovered database with."""
    out = {}
    for name, tickers in (("two", TWO), ("three", THREE), ("many", MANY)):
        db = tmp_path_factory.mktemp("clean") / "clean.db"
        run = harness("analyze", "--source", "demo", *tickers, config=SOURCE, db=db)
        assert run.returncode == 0, run.stderr
        out[name] = facts(db)
    assert len(out["three"]) == 3 and len(out["many"]) == len(MANY)
    return out


def jobs_count(db: Path) -> int:
    return int(one(db, "SELECT count(*) FROM analysis_jobs")[0])


@pytest.mark.parametrize("position", [1, 2, 3])
@pytest.mark.parametrize("point", CHECKPOINTS)
def test_kill_9_at_every_checkpoint(
    db_path: Path, clean: dict[str, list[tuple[object, ...]]], point: str, position: int
) -> None:
    crash = {"source": {}, "crash": {"checkpoint": point, "position": position}}
    killed = harness("analyze", "--source", "demo", *THREE, config=crash)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    oracle(db_path, dead_owners=True)
    # Stocks before the crash position are done; the crashed one is done only if its
    # transaction committed.
    done = int(one(db_path, "SELECT count(*) FROM analysis_results")[0])
    assert done == position - 1 + (point == "committed")

    again = harness("analyze", "--source", "demo", *THREE, config=SOURCE)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"Resuming job 1: {3 - done} of 3")
    assert jobs_count(db_path) == 1
    assert facts(db_path) == clean["three"]
    oracle(db_path)


def test_kill_at_random_times(db_path: Path, clean: dict[str, list[tuple[object, ...]]]) -> None:
    outcomes = soak(db_path, MANY, kills=20, seed=20261128)
    assert facts(db_path) == clean["many"]
    assert any(k.endswith("->130") for k in outcomes) and any(
        k.endswith("->-9") for k in outcomes
    ), outcomes


@pytest.mark.parametrize("on", ["write", "commit"])
def test_database_fault_at_every_nth_operation(
    tmp_path: Path, clean: dict[str, list[tuple[object, ...]]], on: str
) -> None:
    n = 0
    while True:
        n += 1
        db = tmp_path / f"{on}-{n}.db"
        faulty = harness(
            "analyze", "--source", "demo", *TWO, config={"source": {}, "fault": {"on": on, "n": n}},
            db=db,
        )  # fmt: skip
        if faulty.returncode == 0:
            break  # n is past the last operation: the run no longer meets a fault
        assert faulty.returncode == 5, faulty.stderr
        assert faulty.stderr.startswith(f"Error: {db}: ") and faulty.stderr.count("\n") == 1
        if db.exists():
            oracle(db)
        again = harness("analyze", "--source", "demo", *TWO, config=SOURCE, db=db)
        assert again.returncode == 0, (n, again.stderr)
        assert facts(db) == clean["two"], n
        assert jobs_count(db) == 1
        oracle(db)
    assert n > (15 if on == "write" else 4)  # every operation of a real run was reached


def test_source_fault_at_every_nth_call(
    tmp_path: Path, clean: dict[str, list[tuple[object, ...]]]
) -> None:
    for n in range(1, 4):
        for fault, expected in (("fail_at", 1), ("unavailable_at", 75)):
            db = tmp_path / f"{fault}-{n}.db"
            faulty = harness(
                "analyze", "--source", "demo", *THREE, config={"source": {fault: n}}, db=db
            )
            assert faulty.returncode == expected, faulty.stderr
            oracle(db)
            if expected == 75:
                assert "resumable" in faulty.stderr
                assert one(db, "SELECT status FROM analysis_jobs")[0] == "interrupted"
            again = harness("analyze", "--source", "demo", *THREE, config=SOURCE, db=db)
            assert again.returncode == 0, again.stderr
            assert facts(db) == clean["three"]
            oracle(db)


def test_hanging_source_is_stopped_by_sigterm_and_resumable(db_path: Path) -> None:
    proc = start_harness("analyze", "--source", "demo", *THREE, config={"source": {"hang_at": 2}})
    assert proc.stderr is not None
    assert proc.stderr.readline() == "HARNESS: hanging\n"
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and err.startswith("Error: interrupted; job 1")
    assert one(db_path, "SELECT status FROM analysis_jobs")[0] == "interrupted"
    oracle(db_path)
    resumed = harness("jobs", "resume", "1", config=SOURCE)
    assert resumed.returncode == 0 and resumed.stdout.startswith("Resuming job 1: 2 of 3")


def test_bad_frames_are_recorded_not_fatal(db_path: Path) -> None:
    run = harness("analyze", "--source", "demo", *THREE, config={"source": {"bad": ["T0002.NS"]}})
    assert run.returncode == 1
    kind, message = one(
        db_path, "SELECT error_kind, error_message FROM analysis_jobs_details WHERE ticker = ?",
        "T0002.NS",
    )  # fmt: skip
    assert kind == "bad_data" and "NaN" in message
    oracle(db_path)


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_a_signal_after_the_last_stock_before_the_job_is_closed(
    db_path: Path, clean: dict[str, list[tuple[object, ...]]], sig: str
) -> None:
    crash = {"source": {}, "crash": {"checkpoint": "finishing", "position": 0, "signal": sig}}
    stopped = harness("analyze", "--source", "demo", *THREE, config=crash)
    oracle(db_path, dead_owners=sig == "SIGKILL")
    if sig == "SIGKILL":
        assert stopped.returncode == -signal.SIGKILL
        assert one(db_path, "SELECT status FROM analysis_jobs")[0] == "running"
    else:
        assert stopped.returncode == 130, (stopped.returncode, stopped.stderr)
        assert stopped.stderr.startswith("Error: interrupted; job 1 is left resumable")
        assert one(db_path, "SELECT status FROM analysis_jobs")[0] == "interrupted"
    again = harness("analyze", "--source", "demo", *THREE, config=SOURCE)
    assert again.returncode == 0 and again.stdout.startswith("Resuming job 1: 0 of 3")
    assert one(db_path, "SELECT status FROM analysis_jobs")[0] == "succeeded"
    assert facts(db_path) == clean["three"]
    oracle(db_path)
