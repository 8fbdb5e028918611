"""The job loop, called directly: outcomes, per-stock records, resumption, the demo rule."""

from __future__ import annotations

import functools
import json
import os
import sqlite3
from pathlib import Path

import pytest

from stockscan import jobs, store
from stockscan.db import transaction
from stockscan.errors import JobAlreadyRunning, SourceUnavailable, StockError
from stockscan.locks import JobLock, owner_alive
from tests.conftest import oracle
from tests.fakes import FakeSource

Q = jobs.SilentReporter()


def request(*tickers: str, source: str = "csv", **kw: object) -> jobs.JobRequest:
    return jobs.JobRequest(tickers=tickers, source=source, **kw)  # type: ignore[arg-type]


def results(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT ticker, analysis_date, analysis_source, job_id FROM analysis_results"
        " ORDER BY ticker"
    ).fetchall()


def test_a_job_analyses_every_stock_in_one_transaction_each(
    conn: sqlite3.Connection, db_path: Path
) -> None:
    outcome = jobs.run(conn, request("TCS.NS", "INFY.NS"), Q, source=FakeSource())
    assert outcome.exit_code == 0
    assert outcome.job["status"] == "succeeded"
    assert (outcome.job["succeeded"], outcome.job["failed"], outcome.job["total"]) == (2, 0, 2)
    assert outcome.job["finished_at"] is not None
    stocks = outcome.stocks
    assert [s["ticker"] for s in stocks] == ["TCS.NS", "INFY.NS"]
    for s in stocks:
        assert s["status"] == "succeeded" and s["result_id"] is not None
        assert s["analysis_date"] == "2026-11-27"  # the market date of the last bar
        assert s["analysis_source"] == "csv"
        assert s["quantity"] is not None and s["quantity"] >= 0
        assert 0 <= s["score"] <= 100
    raw = conn.execute("SELECT payload FROM analysis_raw_data").fetchall()
    assert len(raw) == 2 and all(json.loads(r[0]) for r in raw)
    oracle(db_path)


def test_rerun_on_the_same_market_date_updates_in_place(
    conn: sqlite3.Connection, db_path: Path
) -> None:
    first = jobs.run(conn, request("TCS.NS", "INFY.NS"), Q, source=FakeSource())
    ids = {s["ticker"]: s["result_id"] for s in first.stocks}
    second = jobs.run(conn, request("TCS.NS", "INFY.NS"), Q, source=FakeSource())
    assert second.job["id"] != first.job["id"]
    assert {s["ticker"]: s["result_id"] for s in second.stocks} == ids  # same rows, updated
    rows = results(conn)
    assert len(rows) == 2
    assert {r[3] for r in rows} == {second.job["id"]}  # now linked to the newer job
    assert conn.execute("SELECT count(*) FROM analysis_raw_data").fetchone()[0] == 2
    oracle(db_path)


def test_one_failing_stock_is_recorded_and_the_others_go_on(
    conn: sqlite3.Connection, db_path: Path
) -> None:
    source = FakeSource(failures={"BAD.NS": StockError("no_data", "nothing for BAD.NS")})
    outcome = jobs.run(conn, request("A.NS", "BAD.NS", "C.NS"), Q, source=source)
    assert source.calls == ["A.NS", "BAD.NS", "C.NS"]
    assert outcome.job["status"] == "partial" and outcome.exit_code == 1
    bad = next(s for s in outcome.stocks if s["ticker"] == "BAD.NS")
    assert (bad["status"], bad["error_kind"], bad["error_message"]) == (
        "failed", "no_data", "nothing for BAD.NS",
    )  # fmt: skip
    assert bad["result_id"] is None
    oracle(db_path)


def test_an_unexpected_exception_is_a_compute_error_on_that_stock(conn: sqlite3.Connection) -> None:
    source = FakeSource(failures={"A.NS": ZeroDivisionError("float division by zero")})
    outcome = jobs.run(conn, request("A.NS", "B.NS"), Q, source=source)
    a = outcome.stocks[0]
    assert a["error_kind"] == "compute_error"
    assert "ZeroDivisionError" in a["error_message"]
    assert outcome.exit_code == 1


def test_nothing_analysed_exits_4(conn: sqlite3.Connection) -> None:
    source = FakeSource(failures={"A.NS": StockError("no_data", "x")})
    outcome = jobs.run(conn, request("A.NS"), Q, source=source)
    assert outcome.job["status"] == "failed" and outcome.exit_code == 4


def test_demo_never_replaces_real_but_real_replaces_demo(
    conn: sqlite3.Connection, db_path: Path
) -> None:
    jobs.run(conn, request("A.NS"), Q, source=FakeSource(name="csv"))
    demo = jobs.run(conn, request("A.NS", source="demo"), Q, source=FakeSource(name="demo"))
    stock = demo.stocks[0]
    assert stock["status"] == "skipped" and stock["error_kind"] == "demo_over_real"
    assert "csv result" in stock["error_message"]
    assert demo.exit_code == 0 and demo.job["skipped"] == 1
    assert results(conn)[0][2] == "csv"

    jobs.run(conn, request("B.NS", source="demo"), Q, source=FakeSource(name="demo"))
    assert results(conn)[1][2] == "demo"
    real = jobs.run(conn, request("B.NS"), Q, source=FakeSource(name="csv"))
    assert real.stocks[0]["status"] == "succeeded"
    assert results(conn)[1][2] == "csv"
    oracle(db_path)


def test_source_unavailable_stops_early_and_leaves_the_rest_pending(
    conn: sqlite3.Connection, db_path: Path
) -> None:
    source = FakeSource(failures={"B.NS": SourceUnavailable("rate limited")})
    with pytest.raises(SourceUnavailable, match="resumable"):
        jobs.run(conn, request("A.NS", "B.NS", "C.NS"), Q, source=source)
    job = store.list_jobs(conn)[0]
    assert job["status"] == "interrupted"
    statuses = [s["status"] for s in store.job_stocks(conn, job["id"])]
    assert statuses == ["succeeded", "pending", "pending"]
    oracle(db_path)

    again = FakeSource()
    outcome = jobs.resume(conn, job["id"], Q, source=again)
    assert again.calls == ["B.NS", "C.NS"]  # only the unfinished stocks
    assert outcome.job["status"] == "succeeded" and outcome.job["attempts"] == 2
    oracle(db_path)


def test_same_request_while_its_owner_lives_is_refused(
    conn: sqlite3.Connection, db_path: Path
) -> None:
    source = FakeSource(failures={"B.NS": SourceUnavailable("down")})
    with pytest.raises(SourceUnavailable):
        jobs.run(conn, request("A.NS", "B.NS"), Q, source=source)
    job_id = store.list_jobs(conn)[0]["id"]
    before = conn.execute("SELECT * FROM analysis_jobs").fetchall()
    with JobLock(db_path, job_id) as held:  # a live process owns the job
        assert held.try_acquire()
        with pytest.raises(JobAlreadyRunning) as info:
            jobs.run(conn, request("B.NS", "A.NS"), Q, source=FakeSource())
        assert info.value.job_id == job_id
    assert conn.execute("SELECT * FROM analysis_jobs").fetchall() == before


def test_a_dead_owners_job_is_adopted_by_the_same_command(
    conn: sqlite3.Connection, db_path: Path
) -> None:
    req = request("A.NS", "B.NS", "C.NS")
    from stockscan.analysis import SCORING_VERSION
    from stockscan.market import last_weekday

    # A job as a process killed after its first stock leaves it: running, one stock done, one
    # stock mid-flight, and nobody holding its lock.
    with transaction(conn):
        job_id = store.create_job(
            conn, request_key=req.key(last_weekday().isoformat(), SCORING_VERSION),
            source="csv", params=req.params(), run_date=last_weekday().isoformat(),
            tickers=req.tickers, owner_pid=999999, owner_host="gone",
        )  # fmt: skip
    jobs._process_stock(conn, job_id, store.unfinished_stocks(conn, job_id)[0], FakeSource(), req)
    with transaction(conn):
        store.start_stock(conn, job_id, 2)
    source = FakeSource()
    outcome = jobs.run(conn, req, Q, source=source)
    assert outcome.job["id"] == job_id
    assert source.calls == ["B.NS", "C.NS"]
    assert outcome.job["status"] == "succeeded" and outcome.job["succeeded"] == 3
    oracle(db_path)


def test_orphans_of_other_requests_are_marked_interrupted(conn: sqlite3.Connection) -> None:
    with transaction(conn):
        orphan = store.create_job(
            conn, request_key="yesterday", source="csv", params={"capital": 1, "risk_pct": 1},
            run_date="2026-11-26", tickers=["A.NS"], owner_pid=999999, owner_host="gone",
        )  # fmt: skip
    jobs.run(conn, request("Z.NS"), Q, source=FakeSource())
    job = store.get_job(conn, orphan)
    assert job is not None and job["status"] == "interrupted"
    assert "died" in job["message"]


def test_the_one_claim_adopts_a_free_job_refuses_a_held_one_and_locks_a_new_one(
    conn: sqlite3.Connection, db_path: Path
) -> None:
    """jobs.run and db import-legacy take their job through claim_job: never two active jobs
    for one request, never an owned job seen unlocked."""
    created: list[int] = []

    def create(owner_pid: int, owner_host: str) -> int:
        created.append(
            store.create_job(
                conn,
                request_key="k",
                source="demo",
                params={},
                run_date="2026-11-27",
                tickers=["A.NS"],
                owner_pid=owner_pid,
                owner_host=owner_host,
            )  # fmt: skip
        )
        return created[-1]

    with transaction(conn):
        first = jobs.claim_job(conn, "k", create)
        assert owner_alive(db_path, first.job_id)  # locked before COMMIT
    assert not first.resumed and created == [first.job_id]
    with pytest.raises(JobAlreadyRunning), transaction(conn):
        jobs.claim_job(conn, "k", create)  # its owner (this one) lives
    with transaction(conn):
        store.adopt_job(conn, first.job_id, owner_pid=1, owner_host="gone")
    first.lock.release()  # the owner died
    with transaction(conn):
        again = jobs.claim_job(conn, "k", create)
    assert again.resumed and again.job_id == first.job_id and created == [first.job_id]
    job = store.get_job(conn, again.job_id)
    assert job is not None and (job["owner_pid"], job["status"]) == (os.getpid(), "running")
    assert owner_alive(db_path, again.job_id)
    with transaction(conn):
        store.interrupt_job(conn, again.job_id, "the test is over")
    again.lock.release()
    oracle(db_path)


def _new_job(conn: sqlite3.Connection, owner_pid: int, owner_host: str) -> int:
    return store.create_job(
        conn, request_key="k", source="demo", params={}, run_date="2026-11-27",
        tickers=["A.NS"], owner_pid=owner_pid, owner_host=owner_host,
    )  # fmt: skip


def test_a_connection_knows_its_canonical_path_and_locks_the_file_by_it(
    db_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A connection opened through a symlink or a relative path carries the file's canonical
    path, so the lock taken through it is the one every other process looks at."""
    canonical = db_path.resolve()
    store.open(canonical).close()
    link = tmp_path / "elsewhere" / "link.db"
    link.parent.mkdir()
    link.symlink_to(canonical)
    monkeypatch.chdir(link.parent)
    for spelling in (link, Path("link.db"), Path("..") / db_path.name):
        conn = store.open(spelling)
        try:
            assert conn.path == canonical
            with transaction(conn):
                claim = jobs.claim_job(conn, "k", functools.partial(_new_job, conn))
            assert owner_alive(canonical, claim.job_id)
            claim.lock.release()
            assert not owner_alive(canonical, claim.job_id)
            with transaction(conn):
                store.interrupt_job(conn, claim.job_id, "the test is over")
        finally:
            conn.close()


def test_capital_and_risk_reach_the_quantity_and_are_stored(conn: sqlite3.Connection) -> None:
    small = jobs.run(conn, request("A.NS", capital=10_000, risk_pct=1), Q,
                     source=FakeSource())  # fmt: skip
    big = jobs.run(conn, request("A.NS", capital=1_000_000, risk_pct=1), Q,
                   source=FakeSource())  # fmt: skip
    assert big.job["params"]["capital"] == 1_000_000
    if small.stocks[0]["side"] != "none":
        assert big.stocks[0]["quantity"] >= small.stocks[0]["quantity"]
    # the result is shared: one row, whoever asked
    assert small.stocks[0]["result_id"] == big.stocks[0]["result_id"]


@pytest.mark.parametrize(("capital", "risk"), [(0, 1), (-5, 1), (1000, 0), (1000, 101),
                                               (float("nan"), 1), (float("inf"), 1)])  # fmt: skip
def test_bad_money_parameters_are_usage_errors(capital: float, risk: float) -> None:
    from stockscan.errors import UsageError

    with pytest.raises(UsageError):
        request("A.NS", capital=capital, risk_pct=risk)


def test_watchlist_links_follow_the_latest_analysis(conn: sqlite3.Connection) -> None:
    conn.execute("INSERT INTO watchlist (ticker, added_at) VALUES ('A.NS', 'now')")
    outcome = jobs.run(conn, request("A.NS"), Q, source=FakeSource())
    row = conn.execute(
        "SELECT last_job_id, last_result_id, analysis_status FROM watchlist"
    ).fetchone()
    assert row == (outcome.job["id"], outcome.stocks[0]["result_id"], "succeeded")
    failing = FakeSource(failures={"A.NS": StockError("network", "down")})
    again = jobs.run(conn, request("A.NS", capital=5), Q, source=failing)
    row = conn.execute(
        "SELECT last_job_id, last_result_id, analysis_status FROM watchlist"
    ).fetchone()
    # the failure is recorded, the last good result stays linked
    assert row == (again.job["id"], outcome.stocks[0]["result_id"], "failed")


def test_whatever_else_ends_the_loop_leaves_the_job_interrupted_not_running(
    conn: sqlite3.Connection, db_path: Path
) -> None:
    """A process about to exit on an unexpected error (here the user interface's) must not
    leave its job `running` under an owner that is gone: it was, before the reporter of a
    terminal crashed on every run."""

    class Broken(jobs.SilentReporter):
        def stock_finished(self, outcome: jobs.StockOutcome) -> None:
            raise RuntimeError("the screen broke")

    with pytest.raises(RuntimeError):
        jobs.run(conn, request("TCS.NS", "INFY.NS"), Broken(), source=FakeSource())
    job = store.get_job(conn, 1)
    assert job is not None
    assert job["status"] == "interrupted"
    assert job["message"] == "stopped by RuntimeError: the screen broke"
    resumed = jobs.resume(conn, 1, Q, source=FakeSource())
    assert resumed.job["status"] == "succeeded"
    oracle(db_path)
