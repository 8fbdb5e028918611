"""Exact liveness for jobs: the process running job N holds an exclusive open-file-description
lock (Linux ``F_OFD_SETLK``) on one byte of the database file itself, at ``LOCK_BASE + N``. The
kernel drops it when the process dies, however it dies (kill -9 included), so "is that byte
locked?" answers "is the owner alive?" exactly: no clock, no PID file.

Why this lock, on this file:

- **A database is its file, not its spelling.** The lock belongs to the file's inode, so every
  path that reaches the file (a symlink, a relative path, a bind mount) meets the same lock;
  there is no lock path to derive from a name. (Two hard links are one inode too, but SQLite
  names the WAL after the path, so ``db.open_db`` refuses a file with more than one link.)
- **Nothing to delete.** Earlier versions kept a lock file per job in ``<database>.locks/``; a
  cleanup script deleting it let a prober create a fresh, unlocked file and declare a live owner
  dead. A byte-range lock on the database file cannot be unlinked from under its owner. If the
  database file itself is replaced (a restore, ``mv``), the owner keeps writing to the old inode,
  and the jobs of the new file rightly have no owner.
- **Other handles closing do not drop it.** Classic POSIX locks (SQLite's) belong to the process
  and vanish when *any* descriptor of the file closes; OFD locks belong to the descriptor that
  took them. Of the database file SQLite locks only bytes 0x40000000 to 0x400001FF
  (``PENDING_BYTE``, ``RESERVED_BYTE``, the shared range; WAL mode's other locks are on
  ``-shm``); ``LOCK_BASE`` is 2**62, far past any byte SQLite or a real file uses (a lock
  beyond the end of a file is legal).
- **Probing is a read.** ``owner_alive`` asks with ``F_OFD_GETLK``, which takes nothing: it
  creates no file or directory (so read commands may call it) and can never make an adopter
  think a dead owner's job is held, as a probe that briefly took the lock could.

The one rule this imposes: **a descriptor this module opens on a database file is never
closed** while the process lives. Closing any descriptor of a file drops every POSIX lock the
process holds on it, SQLite's included (https://sqlite.org/howtocorrupt.html: "Posix advisory
locks canceled by a separate thread doing close()"), so each process opens one descriptor per
database file, keeps it in ``_files`` and reuses it; releasing a job unlocks its byte. OFD
locks are Linux (3.15 and later) only.

Rejected: keeping the lock files and recording the owner's process identity (pid, start time
from ``/proc/<pid>/stat``, boot id) in the job row, to fall back on when a lock file is missing
or was recreated. It needs a schema change, two answers to one question, and still a probe
that must not create the file it probes; the byte lock has one answer and nothing to lose.

Who owns a job changes only inside a write transaction (creating it, adopting it), and the
lock is taken before that transaction commits, so no process ever sees an owned job unlocked.
"""

from __future__ import annotations

import fcntl
import os
import struct
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from stockscan.errors import DatabaseError

# Far outside SQLite's lock bytes (0x40000000 to 0x400001FF); job N locks LOCK_BASE + N.
LOCK_BASE = 1 << 62
# struct flock on Linux: l_type, l_whence (short), l_start, l_len (off_t), l_pid (pid_t).
_FLOCK = "hhqqi4x"

_guard = threading.Lock()
# (st_dev, st_ino) of a database file -> this process's one descriptor on it (never closed),
# and whether it was opened for writing (only such a descriptor can take a lock).
_files: dict[tuple[int, int], tuple[int, bool]] = {}
# Descriptors opened in a race for an inode already in _files, or replaced by a writable one:
# kept open too (they hold no lock), never used.
_spare: list[int] = []
# Jobs this process holds, by (st_dev, st_ino, job id): a probe through our own descriptor
# cannot see our own locks, and a second JobLock in this process must not take a held job.
_held: set[tuple[int, int, int]] = set()

Job = TypeVar("Job", bound=Mapping[str, Any])


def lock_dir(db_path: Path) -> Path:
    """Where versions before the OFD lock kept a lock file per job; ``jobs prune`` still
    removes the files of the jobs it deletes."""
    return db_path.with_name(db_path.name + ".locks")


def _file(db_path: Path, *, write: bool) -> tuple[tuple[int, int], int, bool]:
    """This process's descriptor on the database file: (identity, fd, writable). ``write``: one
    that can take locks is wanted (a read-only file can still be probed)."""
    if not hasattr(fcntl, "F_OFD_SETLK"):
        raise DatabaseError("job locks need Linux open file description locks (F_OFD_SETLK)")
    try:
        st = os.stat(db_path)
    except OSError as exc:
        raise DatabaseError(f"{db_path}: {exc.strerror or exc}") from exc
    key = (st.st_dev, st.st_ino)
    with _guard:
        known = _files.get(key)
        if known is not None and (known[1] or not write):
            return key, *known
        try:
            opened, writable = os.open(db_path, os.O_RDWR | os.O_CLOEXEC), True
        except OSError as exc:
            if known is not None:
                return key, *known
            try:
                opened, writable = os.open(db_path, os.O_RDONLY | os.O_CLOEXEC), False
            except OSError:
                raise DatabaseError(f"{db_path}: {exc.strerror or exc}") from exc
        identity = os.fstat(opened)
        key = (identity.st_dev, identity.st_ino)  # the file we opened, if it moved meanwhile
        current = _files.get(key)
        if current is not None and (current[1] or not writable):
            _spare.append(opened)
        else:
            if current is not None:  # read-only, so it holds no lock
                _spare.append(current[0])
            _files[key] = (opened, writable)
        return key, *_files[key]


def _lock_call(fd: int, command: int, kind: int, job_id: int) -> int:
    """One fcntl on job ``job_id``'s byte; the lock type the kernel answers with."""
    request = struct.pack(_FLOCK, kind, os.SEEK_SET, LOCK_BASE + job_id, 1, 0)
    answer = fcntl.fcntl(fd, command, request)
    return int(struct.unpack(_FLOCK, answer)[0])


class JobLock:
    def __init__(self, db_path: Path, job_id: int) -> None:
        self.db_path = db_path
        self.job_id = job_id
        self._held: tuple[tuple[int, int], int] | None = None

    @property
    def held(self) -> bool:
        return self._held is not None

    def try_acquire(self) -> bool:
        """Take the lock without waiting; False when a live process holds it."""
        if self._held is not None:
            return True
        key, fd, writable = _file(self.db_path, write=True)
        if not writable:
            raise DatabaseError(f"cannot lock job {self.job_id}: {self.db_path} is read-only")
        with _guard:
            if (*key, self.job_id) in _held:
                return False
            try:
                _lock_call(fd, fcntl.F_OFD_SETLK, fcntl.F_WRLCK, self.job_id)
            except (BlockingIOError, PermissionError):  # EAGAIN / EACCES: another holds it
                return False
            except OSError as exc:
                raise DatabaseError(
                    f"cannot lock job {self.job_id} in {self.db_path}: {exc.strerror or exc}"
                ) from exc
            _held.add((*key, self.job_id))
        self._held = (key, fd)
        return True

    def release(self) -> None:
        if self._held is None:
            return
        key, fd = self._held
        with _guard:
            # Unlock the byte; the descriptor stays open (see the module docstring).
            _lock_call(fd, fcntl.F_OFD_SETLK, fcntl.F_UNLCK, self.job_id)
            _held.discard((*key, self.job_id))
        self._held = None

    def __enter__(self) -> JobLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def owner_alive(db_path: Path, job_id: int) -> bool:
    """Whether a live process holds job ``job_id``'s lock: the one test of an owner's life,
    for the orphan sweep, the maintenance commands and every listing that shows a status.
    Takes nothing and creates nothing. No database file: no live owner."""
    if not os.path.exists(db_path):
        return False
    key, fd, _ = _file(db_path, write=False)
    mine = (*key, job_id)
    with _guard:
        if mine in _held:
            return True
    if _lock_call(fd, fcntl.F_OFD_GETLK, fcntl.F_WRLCK, job_id) != fcntl.F_UNLCK:
        return True
    with _guard:  # this process may have taken it since the first look
        return mine in _held


def by_owner(db_path: Path, jobs: Iterable[Job]) -> tuple[list[Job], list[Job]]:
    """``jobs`` (rows with an ``id``) split by ``owner_alive``: (owner alive, owner gone). The
    orphan sweep interrupts the second; the maintenance commands refuse while the first is not
    empty."""
    alive: list[Job] = []
    gone: list[Job] = []
    for job in jobs:
        (alive if owner_alive(db_path, int(job["id"])) else gone).append(job)
    return alive, gone
