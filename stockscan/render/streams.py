"""Output that fails is not the command failing (``guard_streams``).

A reader that goes away (``| head``, ``| grep -q``) stops the output quietly; a full disk or an
I/O error under stdout or the log file is one ``Error:`` line at the end and exit 74. A job
goes on to its end either way: its record is in the database, not on the screen.
"""

from __future__ import annotations

import errno
import os
import sys
import threading
from collections.abc import Iterable
from typing import TextIO


class OutputClosed(Exception):  # noqa: N818 - not an error: the reader is done
    """stdout's reader went away (a closed pipe: ``| head``, ``| grep -q``). Not an OSError,
    so that nothing between the write and ``stockscan.cli.main`` mistakes it for one."""


class OutputFailed(Exception):  # noqa: N818
    """stdout could not be written: a full disk, an I/O error, a terminal hung up."""


class _Output:
    """What became of the output during this command."""

    def __init__(self) -> None:
        self.closed: list[str] = []  # streams whose reader went away
        self.failure: str | None = None  # the first write that failed, as an Error: message
        self.context = ""  # what to add to that message (a job: how to see its record)

    def failed(self, what: str, exc: OSError) -> None:
        if self.failure is None:
            reason = exc.strerror or str(exc)
            self.failure = f"cannot write to {what}: {reason}; the output is incomplete"


output = _Output()


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class _GuardedStream:
    """Stands in for ``sys.stdout`` or ``sys.stderr`` (``guard_streams``).

    The first write or flush that fails points the file descriptor at /dev/null (so that no
    later flush, the interpreter's last one included, fails again) and is recorded in
    ``output``. On stdout, it and every later write raise ``OutputClosed`` or ``OutputFailed``
    in the main thread, so a listing stops; a job's reporter catches them and goes on (a
    flush after that is a no-op). Other threads (Rich's refresh of the progress bar) and
    stderr never raise: their text is dropped. No ``buffer`` attribute: Click would write
    bytes around the encoding set here."""

    def __init__(self, inner: TextIO, name: str, *, raises: bool) -> None:
        self._inner = inner
        self.name = name
        self._raises = raises
        self._dead: Exception | None = None

    def _fail(self, exc: OSError) -> Exception:
        if self._dead is None:
            if isinstance(exc, BrokenPipeError) or exc.errno == errno.EPIPE:
                self._dead = OutputClosed(self.name)
                output.closed.append(self.name)
            else:
                self._dead = OutputFailed(self.name)
                output.failed(self.name, exc)
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self._inner.fileno())
                os.close(devnull)
            except (OSError, ValueError):
                pass
        return self._dead

    def _gone(self, exc: OSError | None = None) -> None:
        dead = self._fail(exc) if exc is not None else self._dead
        if dead is not None and self._raises and _main_thread():
            raise type(dead)(self.name)

    def write(self, text: str) -> int:
        if self._dead is not None:
            self._gone()
            return len(text)
        try:
            return self._inner.write(text)
        except OSError as exc:
            self._gone(exc)
            return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._dead is not None:
            return  # nothing left to flush (the interpreter's last flush comes here too)
        try:
            self._inner.flush()
        except OSError as exc:
            self._gone(exc)

    def isatty(self) -> bool:
        return self._dead is None and self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    @property
    def encoding(self) -> str:
        return self._inner.encoding

    @property
    def errors(self) -> str | None:
        return self._inner.errors

    @property
    def closed(self) -> bool:
        return self._inner.closed

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        self.flush()


def guard_streams() -> None:
    """Put the guards in front of sys.stdout and sys.stderr for this process (the console
    script's ``main``), and have both escape what their encoding cannot show (an ASCII
    locale, ``PYTHONIOENCODING=ascii``) instead of raising UnicodeEncodeError."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is None or isinstance(stream, _GuardedStream):
            continue
        if hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass
        setattr(sys, name, _GuardedStream(stream, name, raises=name == "stdout"))


def finish_output() -> str | None:
    """Flush stdout and stderr at the end of the command; the ``Error:`` message of the first
    output that failed, if one did (a closed pipe is not one)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OutputClosed, OutputFailed, OSError, ValueError):
            pass
    if output.failure is None:
        return None
    return output.failure + (f" ({output.context})" if output.context else "")
