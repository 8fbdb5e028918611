"""Exact liveness for jobs: the running process holds an exclusive ``flock`` on the job's lock
file, ``<database>.locks/job-<id>.lock``. The kernel drops it when the process dies, however it
dies (kill -9 included), so "can I take this lock?" answers "is the owner dead?" exactly; no
clock, no PID file. The lock is never on the database file itself: SQLite uses POSIX locks
there, and those vanish when any handle to the file closes.

Lock files are never deleted while their job exists: deleting a lock file another process has
open would let two processes lock two different files for the same job. ``jobs prune`` removes
the files of the jobs it deletes.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from stockscan.errors import DatabaseError


def lock_dir(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".locks")


class JobLock:
    def __init__(self, db_path: Path, job_id: int) -> None:
        self.path = lock_dir(db_path) / f"job-{job_id}.lock"
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock without waiting; False when a live process holds it."""
        if self._fd is not None:
            return True
        try:
            self.path.parent.mkdir(exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise DatabaseError(
                f"cannot create job lock {self.path}: {exc.strerror or exc}"
            ) from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __enter__(self) -> JobLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def owner_alive(db_path: Path, job_id: int) -> bool:
    """Whether a live process holds job ``job_id``'s lock: the one test of an owner's life,
    for the orphan sweep, the maintenance commands and every listing that shows a status."""
    with JobLock(db_path, job_id) as probe:
        return not probe.try_acquire()
