"""The database layer: pragmas, migrations, transactions, constraints, error mapping."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from stockscan import db as dbmod
from stockscan import migrations, store
from stockscan.errors import DatabaseError

ROOT = Path(__file__).resolve().parent.parent


def test_every_connection_has_the_house_pragmas(db_path: Path) -> None:
    conn = store.open(db_path)
    fresh = dbmod.connect(db_path)
    for c in (conn, fresh):
        assert c.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert c.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert c.execute("PRAGMA busy_timeout").fetchone()[0] >= 5000
        assert c.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        assert c.isolation_level is None
    conn.close()
    fresh.close()


def test_migrations_from_blank_are_recorded_and_rerun_is_a_no_op(db_path: Path) -> None:
    conn = dbmod.connect(db_path)
    assert migrations.migrate(conn) == [name for name, _ in migrations.MIGRATIONS]
    assert migrations.applied(conn) == [name for name, _ in migrations.MIGRATIONS]
    assert migrations.migrate(conn) == []
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"analysis_jobs", "analysis_jobs_details", "analysis_results", "analysis_raw_data",
            "watchlist", "_migrations"} <= tables  # fmt: skip
    conn.close()


def test_a_failing_migration_rolls_back_with_its_record(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def m999_broken(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half_done (x)")
        raise RuntimeError("boom")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, ("m999", m999_broken)])
    conn = dbmod.connect(db_path)
    with pytest.raises(RuntimeError, match="boom"):
        migrations.migrate(conn)
    assert "m999" not in migrations.applied(conn)
    assert conn.execute("SELECT name FROM sqlite_master WHERE name='half_done'").fetchone() is None
    # the pending migrations are one unit: the earlier ones are rolled back with it
    assert migrations.applied(conn) == []
    assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    conn.close()


def test_duplicate_migration_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        migrations.migration(migrations.m001_initial)


def test_schema_sql_is_generated_from_the_migrations() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    migrations.migrate(conn)
    expected = migrations.schema_sql(conn)
    assert (ROOT / "schema.sql").read_text() == expected, (
        "schema.sql is stale: run `stockscan db schema > schema.sql`"
    )


def test_foreign_keys_are_enforced_and_cascade(conn: sqlite3.Connection) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(
            "INSERT INTO analysis_jobs_details (job_id, ticker, position) VALUES (999, 'X', 1)"
        )
    from stockscan import store

    with dbmod.transaction(conn):
        job_id = store.create_job(
            conn, request_key="k", source="demo", params={}, run_date="2026-11-27",
            tickers=["A", "B"], owner_pid=1, owner_host="h",
        )  # fmt: skip
    assert conn.execute("SELECT count(*) FROM analysis_jobs_details").fetchone()[0] == 2
    conn.execute("DELETE FROM analysis_jobs WHERE id = ?", (job_id,))
    assert conn.execute("SELECT count(*) FROM analysis_jobs_details").fetchone()[0] == 0


def test_second_active_job_for_the_same_request_is_refused_by_the_database(
    conn: sqlite3.Connection,
) -> None:
    from stockscan import store

    def create() -> int:
        return store.create_job(
            conn, request_key="same", source="demo", params={}, run_date="2026-11-27",
            tickers=["A"], owner_pid=1, owner_host="h",
        )  # fmt: skip

    with dbmod.transaction(conn):
        first = create()
    with pytest.raises(sqlite3.IntegrityError), dbmod.transaction(conn):
        create()
    conn.execute("UPDATE analysis_jobs SET status = 'succeeded' WHERE id = ?", (first,))
    with dbmod.transaction(conn):
        create()  # a finished job does not block a new one


def test_transaction_rolls_back_and_savepoints_nest(conn: sqlite3.Connection) -> None:
    conn.execute("CREATE TABLE t (x)")
    with pytest.raises(ZeroDivisionError), dbmod.transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        1 / 0  # noqa: B018
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 0
    assert not conn.in_transaction
    with dbmod.transaction(conn):
        conn.execute("INSERT INTO t VALUES (1)")
        with pytest.raises(KeyError), dbmod.transaction(conn):
            conn.execute("INSERT INTO t VALUES (2)")
            raise KeyError("inner")
    assert [r[0] for r in conn.execute("SELECT x FROM t")] == [1]


def test_a_file_that_is_not_sqlite_is_reported_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"this is not a database, just text " * 100)
    before = path.read_bytes()
    with pytest.raises(DatabaseError, match="not a SQLite database"):
        store.open(path)
    assert path.read_bytes() == before
    assert not (tmp_path / "notes.db-wal").exists()


def test_missing_directory_and_missing_database(tmp_path: Path) -> None:
    with pytest.raises(DatabaseError, match="directory does not exist"):
        store.open(tmp_path / "nope" / "x.db")
    with pytest.raises(DatabaseError, match="no database at"):
        store.open(tmp_path / "x.db", create=False)
    assert not (tmp_path / "x.db").exists()


def test_default_path_is_in_the_user_data_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    monkeypatch.delenv("STOCKSCAN_DB")
    path = dbmod.default_db_path()
    assert path.name == "stockscan.db"
    assert str(path).startswith(os.environ["HOME"])


def test_disk_full_is_a_database_error(db_path: Path) -> None:
    conn = store.open(db_path)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(DatabaseError, match="full"), dbmod.translate_errors(db_path):
        with dbmod.transaction(conn):
            conn.executemany(
                "INSERT INTO watchlist (ticker, added_at) VALUES (?, 'x')",
                ((f"T{i}" * 5,) for i in range(10000)),
            )
    conn.close()


def test_file_bytes_counts_the_file_and_its_wal(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    assert dbmod.file_bytes(path) == 0
    path.write_bytes(b"a" * 100)
    assert dbmod.file_bytes(path) == 100
    (tmp_path / "x.db-wal").write_bytes(b"w" * 30)
    (tmp_path / "x.db-shm").write_bytes(b"s" * 7)  # the shared-memory index is not the data
    assert dbmod.file_bytes(path) == 130
