"""The one place that opens the database file: pragmas, transactions, error mapping.

Every connection gets the same pragmas before any transaction (``foreign_keys`` and
``busy_timeout`` are silent no-ops inside one) and is opened with ``isolation_level=None`` so
that Python never begins a transaction behind our back. This module imports nothing of
stockscan's but its errors: migrating is the store's business (``store.open`` passes
``migrations.migrate`` to :func:`open_db`, the one choke point, so a new database and an old
one are handled the same).
"""

from __future__ import annotations

import itertools
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from stockscan.errors import DatabaseError

BUSY_TIMEOUT_MS = 5000
# WAL + NORMAL: a crash of the process never loses a committed transaction; a power loss may
# roll back the last few, which leaves those stocks pending, and a re-run redoes them. FULL
# would fsync every per-stock commit for no gain in consistency.
SYNCHRONOUS = "NORMAL"

_savepoints = itertools.count(1)


def default_db_path() -> Path:
    """``$STOCKSCAN_DB``, else the user data directory (``~/.local/share/stockscan`` on Linux)."""
    env = os.environ.get("STOCKSCAN_DB")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_path

    return user_data_path("stockscan", appauthor=False) / "stockscan.db"


def canonical_path(path: Path) -> Path:
    """``path`` with ``~`` expanded and every symlink and ``..`` resolved (the file need not
    exist yet)."""
    return Path(os.path.realpath(path.expanduser()))


def file_bytes(path: Path) -> int:
    """The database as the disk holds it: its file plus its write-ahead log (0 for either that
    does not exist). Committed pages sit in the WAL until a checkpoint, so the file alone
    undercounts."""
    wal = path.with_name(path.name + "-wal")
    return sum(p.stat().st_size for p in (path, wal) if p.exists())


class Connection(sqlite3.Connection):
    """A connection that knows the file it opened: ``path``, canonical (:func:`canonical_path`),
    names the database for the job locks (stockscan.locks), the messages and the file's size,
    so a connection and its path never travel as a pair."""

    path: Path


def connect(path: Path) -> Connection:
    """Open ``path`` with the house pragmas. Does not create the parent directory."""
    conn = sqlite3.connect(
        str(path),
        isolation_level=None,
        timeout=BUSY_TIMEOUT_MS / 1000,
        check_same_thread=True,
        factory=Connection,
    )
    try:
        conn.path = canonical_path(path)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        _use_wal(conn)
        conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS}")
    except BaseException:
        conn.close()
        raise
    return conn


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the database in WAL mode (once per file; later opens find it so). Reading the
    journal mode is the first real read of the file: a file that is not a database fails here,
    before anything is written."""
    if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        conn.execute("PRAGMA journal_mode = WAL")


def is_busy(exc: sqlite3.Error) -> bool:
    return (getattr(exc, "sqlite_errorname", "") or "").startswith("SQLITE_BUSY")


def open_db(
    path: Path, *, create: bool = True, setup: Callable[[sqlite3.Connection], object]
) -> Connection:
    """Open the database at ``path`` and run ``setup`` on the new connection (``store.open``
    migrates it there).

    ``create=False`` is for read commands: a missing database is reported, not created. The
    parent directory of an explicit path must exist; the default data directory is created.
    """
    if not path.exists():
        if not create:
            raise DatabaseError(f"no database at {path} (run `stockscan analyze` first)")
        if not path.parent.exists():
            explicit = os.environ.get("STOCKSCAN_DB")
            if explicit or canonical_path(path) != canonical_path(default_db_path()):
                raise DatabaseError(f"cannot create database {path}: directory does not exist")
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise DatabaseError(
                    f"cannot create the data directory {path.parent}:"
                    f" {(exc.strerror or type(exc).__name__).lower()}"
                    " (set STOCKSCAN_DB or --db to a database in a writable directory)"
                ) from None
    elif path.is_dir():
        raise DatabaseError(f"cannot open database {path}: it is a directory")
    _refuse_hard_links(path)
    # While several processes open a new database at once, SQLite can answer SQLITE_BUSY
    # without consulting its busy handler (switching the file to WAL, recovering a WAL another
    # process is creating). Opening and ``setup`` (migrating) are idempotent, so they are
    # retried for as long as busy_timeout would have waited.
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    with translate_errors(path):
        while True:
            conn: Connection | None = None
            try:
                conn = connect(path)
                setup(conn)
                return conn
            except sqlite3.OperationalError as exc:
                if conn is not None:
                    conn.close()
                if not is_busy(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
            except BaseException:
                if conn is not None:
                    conn.close()
                raise


def _refuse_hard_links(path: Path) -> None:
    """SQLite names a database's ``-wal`` and ``-shm`` after the path it was opened by, so two
    hard links to one file get two WALs, and writing through both corrupts it (sqlite.org, "How
    To Corrupt An SQLite Database File": "Multiple links to the same file"). Refused before
    SQLite opens the file, by every command, read commands included: a read through the
    second name would miss whatever the first name's WAL holds."""
    for name in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            links = os.stat(name).st_nlink
        except OSError:
            continue  # no -wal or -shm yet; a missing database is reported elsewhere
        if links > 1:
            raise DatabaseError(
                f"{name}: {links} hard links to one database file; SQLite keeps a -wal per name,"
                " so writing through two names corrupts it: delete the other names (`find / "
                f"-samefile {name}` lists them) and keep one, or use a symlink instead"
            )


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; a savepoint when nested; rollback on any exception.

    IMMEDIATE takes the write lock up front, so a transaction that reads and then writes never
    fails half-way with SQLITE_BUSY: it waits (``busy_timeout``) for the lock or fails before
    doing anything.
    """
    # BEGIN and SAVEPOINT sit inside the try: a Ctrl-C that lands just after them must still
    # roll back, or the connection would be left in a transaction nobody ends.
    if conn.in_transaction:
        name = f"sp_{next(_savepoints)}"
        opened = False
        try:
            conn.execute(f"SAVEPOINT {name}")
            opened = True
            yield conn
            conn.execute(f"RELEASE {name}")
        except BaseException:
            if opened and _in_transaction(conn):
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
            raise
        return
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        if _in_transaction(conn):
            conn.execute("ROLLBACK")
        raise


class _DryRun(Exception):
    """Raised inside the transaction of a dry run to roll it back."""


@contextmanager
def changes(conn: sqlite3.Connection, *, dry_run: bool) -> Iterator[sqlite3.Connection]:
    """One write ``transaction()``, rolled back at its end when ``dry_run``: the one dry run of
    the program. It makes the same checks and writes as the real run, so it reports exactly
    what the real run would do at that moment, and keeps none of it."""
    try:
        with transaction(conn):
            yield conn
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass


@contextmanager
def unspilled(conn: sqlite3.Connection) -> Iterator[None]:
    """Changed pages stay in memory until COMMIT (``cache_spill`` off), so a dry run's
    transaction, rolled back, never reaches the file or its WAL. Only for transactions of
    bounded size: the page cache grows with them."""
    threshold = int(conn.execute("PRAGMA cache_spill").fetchone()[0])
    conn.execute("PRAGMA cache_spill = OFF")
    try:
        yield
    finally:
        conn.execute(f"PRAGMA cache_spill = {threshold}")


def _in_transaction(conn: sqlite3.Connection) -> bool:
    """Whether ``conn`` has a transaction to roll back. A closed connection has none: closing
    rolled it back. (A signal landing between a transaction's BEGIN and the ``with`` taking it
    over leaves the generator to be closed by the garbage collector, after the command closed
    its connection: that must not print "Exception ignored … closed database".)"""
    try:
        return conn.in_transaction
    except sqlite3.ProgrammingError:
        return False


@contextmanager
def snapshot(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """Several reads that must agree (a job and its stocks): one deferred read transaction,
    so a writer committing in between cannot show up in some of them and not in others."""
    conn.execute("BEGIN DEFERRED")
    try:
        yield conn
    finally:
        if conn.in_transaction:
            conn.execute("ROLLBACK")  # nothing was written; ending it is all that is needed


_PROBLEMS = {
    "SQLITE_NOTADB": "file is not a SQLite database",
    "SQLITE_CORRUPT": "database is corrupt",
    "SQLITE_READONLY": "database is read-only",
    "SQLITE_FULL": "disk or database is full",
    "SQLITE_BUSY": f"database is locked by another process (waited {BUSY_TIMEOUT_MS // 1000} s)",
    "SQLITE_LOCKED": "database table is locked",
    "SQLITE_CANTOPEN": "cannot open database file",
    "SQLITE_IOERR": "disk I/O error",
    "SQLITE_PERM": "permission denied",
    "SQLITE_AUTH": "access denied",
}


def describe(exc: sqlite3.Error) -> str:
    """A short human description of a sqlite3 error, chosen by its error name."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    for prefix, text in _PROBLEMS.items():
        if name == prefix or name.startswith(prefix + "_"):
            return text
    return str(exc) or type(exc).__name__


@contextmanager
def translate_errors(path: Path) -> Iterator[None]:
    """Turn ``sqlite3.Error`` into ``DatabaseError`` naming the path (exit code 5)."""
    try:
        yield
    except sqlite3.Error as exc:
        raise DatabaseError(f"{path}: {describe(exc)}") from exc
