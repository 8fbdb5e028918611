"""Schema migrations: named functions in order, each applied once with its record in
``_migrations``. The pending ones are one unit: all applied in one transaction, or none.

Never edit a migration that has shipped; add a new one. Each says what its columns mean and,
for columns added later, what NULL means for rows that existed before. ``schema.sql`` at the
top of the repository is generated from these (``stockscan db schema > schema.sql``) and a test
fails when it is stale.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from stockscan.db import transaction
from stockscan.errors import DatabaseError

Migration = Callable[[sqlite3.Connection], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(fn: Migration) -> Migration:
    name = fn.__name__
    if any(existing == name for existing, _ in MIGRATIONS):
        raise ValueError(f"duplicate migration name {name}")
    MIGRATIONS.append((name, fn))
    return fn


def execute_script(conn: sqlite3.Connection, script: str) -> None:
    """Run statements one by one inside the caller's transaction.

    ``executescript`` would COMMIT first, which is exactly what a migration must not do.
    """
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement in migration: {statement!r}")


@migration
def m001_initial(conn: sqlite3.Connection) -> None:
    execute_script(
        conn,
        """
-- One run of the job loop. `id` is what users type. `request_key` is the sha256 of the
-- canonical request (stockscan.jobs.JobRequest.key); while a job is active (running or
-- interrupted) no second job with the same key can exist: the partial unique index below.
-- Owner pid/host say who runs it; liveness itself is a flock on the job's lock file.
CREATE TABLE analysis_jobs (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    request_key   TEXT    NOT NULL,
    status        TEXT    NOT NULL
                  CHECK (status IN ('running', 'interrupted', 'succeeded', 'partial', 'failed')),
    source        TEXT    NOT NULL CHECK (source IN ('yahoo', 'demo', 'csv')),
    params        TEXT    NOT NULL CHECK (json_valid(params)),
    run_date      TEXT    NOT NULL,
    total         INTEGER NOT NULL CHECK (total >= 0),
    succeeded     INTEGER NOT NULL DEFAULT 0,
    failed        INTEGER NOT NULL DEFAULT 0,
    skipped       INTEGER NOT NULL DEFAULT 0,
    attempts      INTEGER NOT NULL DEFAULT 1,
    owner_pid     INTEGER,
    owner_host    TEXT,
    message       TEXT,
    created_at    TEXT    NOT NULL,
    started_at    TEXT    NOT NULL,
    finished_at   TEXT
);
CREATE UNIQUE INDEX idx_jobs_active_request ON analysis_jobs (request_key)
    WHERE status IN ('running', 'interrupted');
CREATE INDEX idx_jobs_status ON analysis_jobs (status, id);
CREATE INDEX idx_jobs_created ON analysis_jobs (created_at);

-- One market fact: one ticker's analysis for the market date of its last bar, whoever asked.
-- Re-analysing the same ticker and date updates the row in place (ON CONFLICT DO UPDATE).
-- job_id: the job that last wrote it; NULL only once that job has been pruned.
-- status: 'complete', or 'partial' when the last bar was still moving.
-- Quantity is not here: it depends on a job's capital (analysis_jobs_details.quantity).
CREATE TABLE analysis_results (
    id               INTEGER PRIMARY KEY,
    job_id           INTEGER REFERENCES analysis_jobs (id) ON DELETE SET NULL,
    ticker           TEXT    NOT NULL,
    analysis_date    TEXT    NOT NULL
                     CHECK (analysis_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    status           TEXT    NOT NULL CHECK (status IN ('complete', 'partial')),
    score            REAL    NOT NULL CHECK (score BETWEEN 0 AND 100),
    verdict          TEXT    NOT NULL
                     CHECK (verdict IN ('STRONG_BUY', 'BUY', 'HOLD', 'SELL', 'STRONG_SELL')),
    side             TEXT    NOT NULL CHECK (side IN ('long', 'short', 'none')),
    close            REAL    NOT NULL,
    entry            REAL,
    stop             REAL,
    target           REAL,
    reward_risk      REAL,
    analysis_source  TEXT    NOT NULL CHECK (analysis_source IN ('yahoo', 'demo', 'csv')),
    scoring_version  TEXT    NOT NULL,
    bars_used        INTEGER NOT NULL,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL
);
-- Also serves "latest per ticker": the newest analysis_date of a ticker is one index seek.
CREATE UNIQUE INDEX idx_results_ticker_date ON analysis_results (ticker, analysis_date);
CREATE INDEX idx_results_job ON analysis_results (job_id);

-- The indicator detail behind one result, kept apart so list queries never read it.
CREATE TABLE analysis_raw_data (
    id          INTEGER PRIMARY KEY,
    result_id   INTEGER NOT NULL UNIQUE REFERENCES analysis_results (id) ON DELETE CASCADE,
    payload     TEXT    NOT NULL CHECK (json_valid(payload)),
    created_at  TEXT    NOT NULL
);

-- One stock inside one job: what happened to it, and why.
-- result_id: the result it wrote; NULL until it succeeds (or if that result is deleted).
-- quantity: the position size for this job's capital and risk.
CREATE TABLE analysis_jobs_details (
    id             INTEGER PRIMARY KEY,
    job_id         INTEGER NOT NULL REFERENCES analysis_jobs (id) ON DELETE CASCADE,
    ticker         TEXT    NOT NULL,
    position       INTEGER NOT NULL,
    status         TEXT    NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    error_kind     TEXT,
    error_message  TEXT,
    result_id      INTEGER REFERENCES analysis_results (id) ON DELETE SET NULL,
    quantity       INTEGER,
    started_at     TEXT,
    finished_at    TEXT,
    CONSTRAINT uq_details_job_ticker UNIQUE (job_id, ticker)
);
CREATE INDEX idx_details_job_status ON analysis_jobs_details (job_id, status);
CREATE INDEX idx_details_result ON analysis_jobs_details (result_id);

-- A ticker the user follows, linked to its latest analysis (updated in the same transaction
-- as the result). NULL links: never analysed, or the linked job/result was pruned.
CREATE TABLE watchlist (
    id                INTEGER PRIMARY KEY,
    ticker            TEXT NOT NULL UNIQUE,
    name              TEXT,
    added_at          TEXT NOT NULL,
    last_job_id       INTEGER REFERENCES analysis_jobs (id) ON DELETE SET NULL,
    last_result_id    INTEGER REFERENCES analysis_results (id) ON DELETE SET NULL,
    last_analyzed_at  TEXT,
    analysis_status   TEXT CHECK (analysis_status IN ('succeeded', 'failed', 'skipped'))
);
CREATE INDEX idx_watchlist_last_job ON watchlist (last_job_id);
CREATE INDEX idx_watchlist_last_result ON watchlist (last_result_id);
""",
    )


def rebuild_tables(conn: sqlite3.Connection, prefix: str, tables: dict[str, str]) -> None:
    """SQLite's table rebuild ("make other kinds of table schema changes", 12 steps) for a
    family of tables that reference each other, inside the caller's transaction.

    ``tables`` maps each table name to its new ``CREATE TABLE``, parents before children, and
    must hold every table with a foreign key to a rebuilt one. The usual recipe turns foreign
    keys off first; a migration cannot (``PRAGMA foreign_keys`` is a no-op inside a
    transaction), and with them on, ``DROP TABLE`` of a parent runs its ON DELETE actions:
    CASCADE would empty the children. So the old tables are renamed first (SQLite rewrites the
    references among them to the new names), the new tables are created under the real names
    and filled parent-first, and the old ones are dropped child-first, when no table refers to
    them any more. Indexes, triggers and views on these tables, whichever migration made them,
    are re-created from their saved SQL; AUTOINCREMENT counters are carried over, so no id is
    ever handed out twice.
    """
    names = list(tables)
    marks = ", ".join("?" * len(names))
    saved = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL AND"
        f" ((type IN ('index', 'trigger') AND tbl_name IN ({marks})) OR type = 'view')"
        " ORDER BY CASE type WHEN 'index' THEN 0 WHEN 'trigger' THEN 1 ELSE 2 END, rowid",
        names,
    ).fetchall()
    for kind, name, _ in saved:
        conn.execute(f'DROP {kind.upper()} "{name}"')
    counters: list[tuple[str, int]] = []
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence'").fetchone():
        counters = conn.execute(
            f"SELECT name, seq FROM sqlite_sequence WHERE name IN ({marks})", names
        ).fetchall()
    old_columns = {
        name: [row[1] for row in conn.execute(f'PRAGMA table_info("{name}")')] for name in names
    }
    for name in names:
        conn.execute(f'ALTER TABLE "{name}" RENAME TO "{prefix}{name}"')
    for sql in tables.values():
        execute_script(conn, sql)
    for name in names:
        new_columns = {row[1] for row in conn.execute(f'PRAGMA table_info("{name}")')}
        lost = [column for column in old_columns[name] if column not in new_columns]
        if lost:  # a column added by a migration this rebuild does not know of
            raise RuntimeError(f"rebuilding {name} would drop its columns {lost}")
        columns = ", ".join(f'"{column}"' for column in old_columns[name])
        conn.execute(f'INSERT INTO "{name}" ({columns}) SELECT {columns} FROM "{prefix}{name}"')
    for name in reversed(names):
        conn.execute(f'DROP TABLE "{prefix}{name}"')
    for name, seq in counters:
        updated = conn.execute(
            "UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = ?", (seq, name)
        ).rowcount
        if not updated:
            conn.execute("INSERT INTO sqlite_sequence (name, seq) VALUES (?, ?)", (name, seq))
    for _, _, sql in saved:
        conn.execute(sql)


# There is no m002, and the record does not say why: no commit of this repository ever held a
# migration of that name (`git log -S m002` finds none), m001 came with the first commit, and
# m003 and m004 came together in the commit that added the legacy import (issues 6-8). The
# gap is harmless: migrations are applied and recorded by name, never counted. Do not fill it:
# a new migration takes the next number after the last one.
@migration
def m003_legacy_import(conn: sqlite3.Connection) -> None:
    """Room for data imported from the old three-table system (`stockscan db import-legacy`).

    Widening CHECK constraints and relaxing NOT NULL needs a table rebuild; analysis_jobs and
    analysis_results are rebuilt with the three tables that reference them (rebuild_tables).
    analysis_raw_data, analysis_jobs_details and watchlist come back exactly as they were.
    """
    rebuild_tables(
        conn,
        "_m003_old_",
        {
            "analysis_jobs": """
-- As in m001, plus:
-- source 'legacy': a job of the old system, or a `db import-legacy` run that brought the old
-- results over. Which price source the old system used is unknown.
-- legacy_job_id: the old system's job UUID; NULL for every job stockscan ran (all jobs that
-- existed before this migration, and the import runs themselves). An imported old job has no
-- stock rows (the old system kept none): `total` is its old total, succeeded/failed/skipped
-- stay 0 and its old status and counts are in `params`; one that was stuck in 'processing'
-- is 'interrupted', and `message` says so and keeps the old `errors` text.
CREATE TABLE analysis_jobs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    request_key    TEXT    NOT NULL,
    status         TEXT    NOT NULL
                   CHECK (status IN ('running', 'interrupted', 'succeeded', 'partial', 'failed')),
    source         TEXT    NOT NULL CHECK (source IN ('yahoo', 'demo', 'csv', 'legacy')),
    params         TEXT    NOT NULL CHECK (json_valid(params)),
    run_date       TEXT    NOT NULL,
    total          INTEGER NOT NULL CHECK (total >= 0),
    succeeded      INTEGER NOT NULL DEFAULT 0,
    failed         INTEGER NOT NULL DEFAULT 0,
    skipped        INTEGER NOT NULL DEFAULT 0,
    attempts       INTEGER NOT NULL DEFAULT 1,
    owner_pid      INTEGER,
    owner_host     TEXT,
    message        TEXT,
    created_at     TEXT    NOT NULL,
    started_at     TEXT    NOT NULL,
    finished_at    TEXT,
    legacy_job_id  TEXT    CHECK (legacy_job_id IS NULL OR source = 'legacy')
);
""",
            "analysis_results": """
-- As in m001, plus room for results imported from the old system:
-- legacy_result_id: the id of the old row this result was imported from (the newest of that
-- ticker's old rows on that date). NULL for every result stockscan computed (all results that
-- existed before this migration); when stockscan re-analyses an imported ticker and date it
-- replaces the row and sets this back to NULL.
-- An imported result has scoring_version 'legacy' (the old scoring model is unknown), close
-- and bars_used NULL (never recorded by the old system), side derived from its entry and
-- stop, analysis_source 'unknown' when the old row had none. Score and verdict are never
-- invented: an old row without a valid one is not imported. The CHECK below keeps all of this
-- to imported rows.
CREATE TABLE analysis_results (
    id                INTEGER PRIMARY KEY,
    job_id            INTEGER REFERENCES analysis_jobs (id) ON DELETE SET NULL,
    ticker            TEXT    NOT NULL,
    analysis_date     TEXT    NOT NULL
                      CHECK (analysis_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    status            TEXT    NOT NULL CHECK (status IN ('complete', 'partial')),
    score             REAL    NOT NULL CHECK (score BETWEEN 0 AND 100),
    verdict           TEXT    NOT NULL
                      CHECK (verdict IN ('STRONG_BUY', 'BUY', 'HOLD', 'SELL', 'STRONG_SELL')),
    side              TEXT    NOT NULL CHECK (side IN ('long', 'short', 'none')),
    close             REAL,
    entry             REAL,
    stop              REAL,
    target            REAL,
    reward_risk       REAL,
    analysis_source   TEXT    NOT NULL
                      CHECK (analysis_source IN ('yahoo', 'demo', 'csv', 'unknown')),
    scoring_version   TEXT    NOT NULL,
    bars_used         INTEGER,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    legacy_result_id  INTEGER,
    CONSTRAINT ck_results_native_or_legacy CHECK (
        (legacy_result_id IS NULL AND scoring_version <> 'legacy'
         AND analysis_source <> 'unknown' AND close IS NOT NULL AND bars_used IS NOT NULL)
        OR (legacy_result_id IS NOT NULL AND scoring_version = 'legacy'))
);
""",
            "analysis_raw_data": """
-- Unchanged from m001.
CREATE TABLE analysis_raw_data (
    id          INTEGER PRIMARY KEY,
    result_id   INTEGER NOT NULL UNIQUE REFERENCES analysis_results (id) ON DELETE CASCADE,
    payload     TEXT    NOT NULL CHECK (json_valid(payload)),
    created_at  TEXT    NOT NULL
);
""",
            "analysis_jobs_details": """
-- Unchanged from m001.
CREATE TABLE analysis_jobs_details (
    id             INTEGER PRIMARY KEY,
    job_id         INTEGER NOT NULL REFERENCES analysis_jobs (id) ON DELETE CASCADE,
    ticker         TEXT    NOT NULL,
    position       INTEGER NOT NULL,
    status         TEXT    NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    error_kind     TEXT,
    error_message  TEXT,
    result_id      INTEGER REFERENCES analysis_results (id) ON DELETE SET NULL,
    quantity       INTEGER,
    started_at     TEXT,
    finished_at    TEXT,
    CONSTRAINT uq_details_job_ticker UNIQUE (job_id, ticker)
);
""",
            "watchlist": """
-- Unchanged from m001.
CREATE TABLE watchlist (
    id                INTEGER PRIMARY KEY,
    ticker            TEXT NOT NULL UNIQUE,
    name              TEXT,
    added_at          TEXT NOT NULL,
    last_job_id       INTEGER REFERENCES analysis_jobs (id) ON DELETE SET NULL,
    last_result_id    INTEGER REFERENCES analysis_results (id) ON DELETE SET NULL,
    last_analyzed_at  TEXT,
    analysis_status   TEXT CHECK (analysis_status IN ('succeeded', 'failed', 'skipped'))
);
""",
        },
    )
    # An old job is imported once: its UUID is the key that makes a second import a no-op.
    conn.execute(
        "CREATE UNIQUE INDEX idx_jobs_legacy_job_id ON analysis_jobs (legacy_job_id)"
        " WHERE legacy_job_id IS NOT NULL"
    )


@migration
def m004_detail_note(conn: sqlite3.Connection) -> None:
    execute_script(
        conn,
        """
-- note: what happened to a stock when it is neither an error nor a plain success, e.g. "no
-- new bars since 2026-11-27" when a scan found the result it already had. NULL (and on rows
-- from before this migration): nothing to note.
ALTER TABLE analysis_jobs_details ADD COLUMN note TEXT;

-- The newest market date in the database (watchlist staleness, `results latest`): an index
-- seek instead of a scan of every result.
CREATE INDEX IF NOT EXISTS idx_results_date ON analysis_results (analysis_date);
""",
    )


@migration
def m005_price_cache(conn: sqlite3.Connection) -> None:
    execute_script(
        conn,
        """
-- One complete daily bar of one ticker from one source, as that source adjusted it. A bar is
-- cached only once final (the exchange closed that day), so a cached bar never moves unless the
-- provider re-adjusts history (a split or dividend), which a refetch detects and replaces.
-- source: the source that produced the bar ('yahoo'; demo and csv are not cached).
-- auto_adjust: 1 when OHLC are split/dividend adjusted (yfinance auto_adjust=True), else 0;
-- part of the key, because the two series of one ticker differ.
-- market_date: the exchange-local date of the bar (YYYY-MM-DD). volume: 0 when missing.
CREATE TABLE price_bars (
    source       TEXT    NOT NULL,
    ticker       TEXT    NOT NULL,
    auto_adjust  INTEGER NOT NULL CHECK (auto_adjust IN (0, 1)),
    market_date  TEXT    NOT NULL
                 CHECK (market_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    open         REAL    NOT NULL,
    high         REAL    NOT NULL,
    low          REAL    NOT NULL,
    close        REAL    NOT NULL,
    volume       REAL    NOT NULL,
    PRIMARY KEY (source, ticker, auto_adjust, market_date)
) WITHOUT ROWID;

-- The last successful fetch of one ticker's series: what decides whether a run needs the
-- network at all. fetched_at: ISO-8601 UTC time of that fetch. newest_date: market date of
-- the newest cached bar. exchange_tz: the exchange's time zone as the provider reported it
-- (e.g. Asia/Kolkata), so "the exchange has closed since" can be answered without a request.
-- source_version: the library that fetched it (e.g. 'yfinance 1.7.0').
CREATE TABLE price_fetches (
    source          TEXT    NOT NULL,
    ticker          TEXT    NOT NULL,
    auto_adjust     INTEGER NOT NULL CHECK (auto_adjust IN (0, 1)),
    fetched_at      TEXT    NOT NULL,
    newest_date     TEXT    NOT NULL,
    exchange_tz     TEXT,
    source_version  TEXT,
    PRIMARY KEY (source, ticker, auto_adjust)
) WITHOUT ROWID;

-- Provenance of a result's bars. fetched_at: when the source fetched them (ISO-8601 UTC; for
-- bars served from the price cache, its ticker's last fetch). source_version: the library that did
-- (e.g. 'yfinance 1.7.0'). auto_adjust: 1/0 for yahoo's adjustment choice. NULL for demo and
-- csv where a field does not apply, and on every row from before this migration: unknown.
ALTER TABLE analysis_results ADD COLUMN fetched_at TEXT;
ALTER TABLE analysis_results ADD COLUMN source_version TEXT;
ALTER TABLE analysis_results ADD COLUMN auto_adjust INTEGER CHECK (auto_adjust IN (0, 1));
""",
    )


# The snapshot indicators of m006, frozen here: this migration's columns never change, whatever
# stockscan.analysis.INDICATOR_NAMES becomes (a new indicator is a new migration).
_M006_INDICATORS = (
    "sma_20", "sma_50", "sma_200", "ema_20", "rsi_14", "macd", "macd_signal", "macd_hist",
    "atr_14", "bb_upper", "bb_middle", "bb_lower", "adx_14", "roc_20", "volume_ratio_20",
    "high_52w", "low_52w",
)  # fmt: skip


def _m006_number(name: str) -> str:
    """The raw data's snapshot value ``name`` as a number, NULL when absent or not a number
    (an old system's payload may hold anything)."""
    path = f"'$.indicators.{name}'"
    return (
        f"CASE json_type(raw.payload, {path}) WHEN 'real' THEN json_extract(raw.payload, {path})"
        f" WHEN 'integer' THEN json_extract(raw.payload, {path}) END"
    )


def m006_fill_indicators_sql(where: str) -> str:
    """The INSERT that (re)writes result_indicators from analysis_results and the raw data of
    the results ``where`` selects: m006's backfill, and (frozen with it) what save_result runs
    for the result it has just written, so a backfilled row and a live one are the same."""
    values = [_m006_number(name) for name in _M006_INDICATORS]
    atr, high = _m006_number("atr_14"), _m006_number("high_52w")
    derived = [
        f"100.0 * ({atr}) / nullif(r.close, 0)",
        "100.0 * abs(r.close - r.stop) / nullif(r.close, 0)",
        f"100.0 * (r.close - ({high})) / nullif({high}, 0)",
    ]
    columns = [*_M006_INDICATORS, "atr_pct", "stop_pct", "pct_from_52w_high"]
    return (
        f"INSERT INTO result_indicators (result_id, {', '.join(columns)})"
        f" SELECT r.id, {', '.join(values + derived)}"
        " FROM analysis_results AS r LEFT JOIN analysis_raw_data AS raw ON raw.result_id = r.id"
        f" WHERE {where}"
        " ON CONFLICT (result_id) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in columns)
    )


@migration
def m006_screens(conn: sqlite3.Connection) -> None:
    columns = "".join(f"    {name:<18} REAL,\n" for name in _M006_INDICATORS)
    execute_script(
        conn,
        f"""
-- The snapshot indicators of one result as columns a screen (`--where`, `--sort`) can read
-- without touching the raw JSON: one row per result, written in the same transaction as the
-- result (store.save_result) and deleted with it. The 17 indicators are the values at the last
-- bar (analysis_raw_data's "indicators"); NULL where an indicator is undefined there (e.g. no
-- volume to compare with). The derived ones, in %: atr_pct = 100 * atr_14 / close; stop_pct =
-- 100 * |close - stop| / close, the distance to the plan's stop (NULL when the plan has no
-- stop); pct_from_52w_high = 100 * (close - high_52w) / high_52w, zero or below.
-- Rows of results that existed before this migration were filled from their raw data; a
-- result whose raw data had been pruned (`db prune --raw-older-than`), or that was imported
-- from the old system (no indicators, no close), has NULL in every column.
CREATE TABLE result_indicators (
    result_id          INTEGER PRIMARY KEY
                       REFERENCES analysis_results (id) ON DELETE CASCADE,
{columns}    atr_pct            REAL,
    stop_pct           REAL,
    pct_from_52w_high  REAL
);

-- A saved screen (`stockscan screen save NAME EXPR`): a --where expression under a name, with
-- the --sort it was saved with. expression is stored as typed and compiled each time it is
-- used, so a screen saved by an older version is checked by the rules of the running one.
-- sort: the --sort text, NULL for the listing's own order (best score first).
CREATE TABLE screens (
    name        TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
    expression  TEXT NOT NULL CHECK (length(expression) > 0),
    sort        TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
""",
    )
    conn.execute(m006_fill_indicators_sql("1"))


def _ensure_table(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations ( name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )


def applied(conn: sqlite3.Connection) -> list[str]:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'"
    ).fetchone()
    if not exists:
        return []
    return [row[0] for row in conn.execute("SELECT name FROM _migrations ORDER BY rowid")]


def pending(conn: sqlite3.Connection) -> list[str]:
    done = set(applied(conn))
    return [name for name, _ in MIGRATIONS if name not in done]


# What a migration may write, in bytes, estimated from the database it will run on (see
# space_needed). A migration not listed changes the schema only, or creates empty tables: a
# few pages.
SMALL_MIGRATION_BYTES = 256 * 1024
# Bytes per row of an index on one short column (a date and a rowid, with b-tree overhead).
INDEX_ROW_BYTES = 48
MARGIN_BYTES = 4 * 1024 * 1024
# Bytes per row of result_indicators (21 REALs, a rowid, b-tree overhead).
INDICATOR_ROW_BYTES = 200


def _bytes_in_use(conn: sqlite3.Connection) -> int:
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    free = conn.execute("PRAGMA freelist_count").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    return int((pages - free) * size)


def _rows(conn: sqlite3.Connection, table: str) -> int:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).fetchone()
    return int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]) if exists else 0


WRITES: dict[str, Callable[[sqlite3.Connection], int]] = {
    # A rebuild copies every row of the tables it rebuilds, with their indexes: at the schema
    # m003 runs on, those five tables are the whole database, so all of it is written again.
    "m003_legacy_import": _bytes_in_use,
    # A new index on analysis_results (analysis_date).
    "m004_detail_note": lambda conn: _rows(conn, "analysis_results") * INDEX_ROW_BYTES,
    # A row of 21 numbers per result.
    "m006_screens": lambda conn: _rows(conn, "analysis_results") * INDICATOR_ROW_BYTES,
}


def space_needed(conn: sqlite3.Connection, names: list[str]) -> int:
    """Free disk the pending migrations ``names`` may need at their peak, conservatively.

    Every page they write goes to the write-ahead log first (the whole unit is one
    transaction, so the log holds all of it until COMMIT), and the checkpoint after COMMIT
    copies it into the database file, which grows by the pages that are new. Measured on a
    first-release database (m003 pending: the whole file rebuilt), the disk's use rose by 2.9
    times the file at its peak (10.6 MB file: 31.1 MB; 35.0 MB file: 103.0 MB): the log holds
    each b-tree page once per time the page cache spilled it, about twice the data. So: 3.25
    times what they write, plus a margin for the -shm and SQLite's own bookkeeping.
    """
    written = sum(WRITES.get(name, lambda _: SMALL_MIGRATION_BYTES)(conn) for name in names)
    return 3 * written + written // 4 + MARGIN_BYTES


def _database_file(conn: sqlite3.Connection) -> Path | None:
    """The file of ``conn``'s main database; None in memory."""
    for _, name, file in conn.execute("PRAGMA database_list"):
        if name == "main":
            return Path(file) if file else None
    return None


def _mb(count: int) -> str:
    return f"{count / 1e6:.1f} MB"


def check_space(conn: sqlite3.Connection, names: list[str]) -> None:
    """Refuse (``DatabaseError``, exit 5) before the first write when the disk holding the
    database has less free space than the migrations ``names`` may need."""
    path = _database_file(conn)
    if path is None:
        return
    needed = space_needed(conn, names)
    free = shutil.disk_usage(path.parent).free
    if free < needed:
        raise DatabaseError(
            f"{path}: updating its schema ({len(names)} pending migrations) needs about"
            f" {_mb(needed)} free on {path.parent}, which has {_mb(free)}: nothing was changed;"
            " free some space (or copy the database to a larger disk and point --db at it)"
            " and run the command again"
        )


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply every pending migration, all in one transaction; return the names applied.

    All or nothing: a failure anywhere (a bad migration, a full disk, Ctrl-C) rolls every one
    of them back, records included, and leaves the database at the schema it had. The space
    they may need is checked before the first write (check_space). Each migration must be able
    to run inside a transaction: no VACUUM, and no PRAGMA foreign_keys (a no-op there; m003's
    rebuild_tables works with foreign keys on).

    Cheap when there is nothing to do: one read, no write lock. Two processes migrating at once
    serialise on BEGIN IMMEDIATE and the second finds nothing left to do.
    """
    if not pending(conn):
        return []
    with transaction(conn):
        todo = pending(conn)  # again, under the write lock: another process may have migrated
        if not todo:
            return []
        check_space(conn, todo)
        _ensure_table(conn)
        functions = dict(MIGRATIONS)
        for name in todo:
            functions[name](conn)
            conn.execute(
                "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
                (name, datetime.now(UTC).isoformat(timespec="seconds")),
            )
            problems = conn.execute("PRAGMA foreign_key_check").fetchall()
            if problems:
                raise sqlite3.IntegrityError(f"migration {name} broke foreign keys: {problems}")
    # Give the log's space back now, not when the last connection closes: after a rebuild it
    # holds about twice the database, and the command that migrated may run for hours.
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return todo


def schema_sql(conn: sqlite3.Connection) -> str:
    """The schema of a migrated database, as ``schema.sql`` holds it."""
    rows = conn.execute(
        "SELECT type, name, sql FROM sqlite_master WHERE sql IS NOT NULL"
        " AND name NOT LIKE 'sqlite_%' ORDER BY CASE type WHEN 'table' THEN 0 ELSE 1 END,"
        " tbl_name, name"
    ).fetchall()
    header = (
        "-- Generated from stockscan/migrations.py by `stockscan db schema`. Do not edit:\n"
        "-- add a migration and regenerate. tests/test_db.py fails when this file is stale.\n"
    )
    return header + "".join(f"\n{sql};\n" for _, _, sql in rows)
