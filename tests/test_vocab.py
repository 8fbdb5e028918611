"""The vocabularies (``stockscan.vocab``) are the ones the schema's CHECK constraints allow: read
from a migrated database's own DDL, so a migration that changes a list fails here."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from stockscan import store, vocab

CHECK_IN = re.compile(r"CHECK\s*\(\s*(\w+)\s+IN\s*\(([^)]*)\)\s*\)", re.IGNORECASE)


def allowed(conn: sqlite3.Connection, table: str, column: str) -> set[str]:
    (sql,) = conn.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    lists = [values for name, values in CHECK_IN.findall(sql) if name == column]
    assert len(lists) == 1, f"{table}.{column}: {len(lists)} CHECK (… IN …) constraints"
    return set(re.findall(r"'([^']*)'", lists[0]))


@pytest.mark.parametrize(
    ("table", "column", "words"),
    [
        ("analysis_jobs", "status", vocab.JOB_STATUSES),
        ("analysis_jobs", "source", vocab.JOB_SOURCES),
        ("analysis_jobs_details", "status", vocab.STOCK_STATUSES),
        ("analysis_results", "verdict", vocab.VERDICTS),
        ("analysis_results", "side", vocab.SIDES),
        ("analysis_results", "status", vocab.RESULT_STATUSES),
        ("analysis_results", "analysis_source", vocab.RESULT_SOURCES),
        ("watchlist", "analysis_status", vocab.COUNTED_STOCK_STATUSES),
    ],
)
def test_each_check_constraint_allows_exactly_the_vocabulary(
    db_path: Path, table: str, column: str, words: tuple[str, ...]
) -> None:
    conn = store.open(db_path)  # created and migrated
    try:
        assert allowed(conn, table, column) == set(words)
    finally:
        conn.close()


def test_the_subsets_are_subsets() -> None:
    assert set(vocab.BUY_SIDE) <= set(vocab.VERDICTS)
    assert set(vocab.REAL_SOURCES) <= set(vocab.SOURCES)
    assert set(vocab.ACTIVE_JOB_STATUSES) | set(vocab.TERMINAL_JOB_STATUSES) == set(
        vocab.JOB_STATUSES
    )
    assert not set(vocab.ACTIVE_JOB_STATUSES) & set(vocab.TERMINAL_JOB_STATUSES)
    assert set(vocab.COUNTED_STOCK_STATUSES) <= set(vocab.STOCK_STATUSES)


def test_the_vocabulary_module_imports_nothing_of_ours_or_numpys() -> None:
    text = (Path(vocab.__file__)).read_text()
    imports = re.findall(r"^(?:from|import) (\S+)", text, re.MULTILINE)
    assert set(imports) <= {"__future__", "typing"}, imports


def test_the_source_option_offers_exactly_the_sources() -> None:
    from stockscan.cli.options import SourceChoice

    assert tuple(choice.value for choice in SourceChoice) == vocab.SOURCES
