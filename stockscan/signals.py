"""Every signal handler of the program, in one place.

- SIGTERM (systemd, cron timeouts, kill) and SIGHUP (the terminal or ssh session went away) end a
  command like Ctrl-C does (``interrupts_as_ctrl_c``): a job is left interrupted and resumable,
  exit 130. By default they would end the process without a word, leaving a job ``running``
  under a dead owner.
- SIGUSR1 and SIGUSR2 mean nothing to stockscan and are ignored (``ignore_stray``), so that a
  stray one (a log rotator's) does not cut a nightly scan short.
- While the job loop records an interruption, a second Ctrl-C must not interrupt that
  bookkeeping (``ignored``); once a command is over and its work committed, a late one must not
  kill the process before stdout is flushed (``ignore_interrupts``).

Handlers can only be set from the main thread; elsewhere each call here leaves signals alone.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

# Signals that end a job like Ctrl-C does.
INTERRUPT_SIGNALS = (signal.SIGTERM, signal.SIGHUP)
# Signals that mean nothing to stockscan.
IGNORED_SIGNALS = (signal.SIGUSR1, signal.SIGUSR2)


class SignalInterrupt(KeyboardInterrupt):
    """A signal that ends the run like Ctrl-C (KeyboardInterrupt), naming itself."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signame = signal.Signals(signum).name


def interrupt_name(exc: KeyboardInterrupt) -> str:
    """What interrupted: ``SIGTERM``, ``SIGHUP`` or ``Ctrl-C``."""
    return exc.signame if isinstance(exc, SignalInterrupt) else "Ctrl-C"


@contextmanager
def interrupts_as_ctrl_c() -> Iterator[None]:
    """SIGTERM and SIGHUP end the block like Ctrl-C does (as a ``SignalInterrupt``)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise SignalInterrupt(signum)

    previous = {}
    try:
        for sig in INTERRUPT_SIGNALS:
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        for sig, before in previous.items():
            signal.signal(sig, before)


@contextmanager
def ignored() -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP are ignored inside the block, then handled as before."""
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, *INTERRUPT_SIGNALS)}
    try:
        for sig in saved:
            signal.signal(sig, signal.SIG_IGN)
    except ValueError:
        pass
    try:
        yield
    finally:
        for sig, previous in saved.items():
            try:
                signal.signal(sig, previous)
            except (ValueError, TypeError):
                pass


def ignore_stray() -> None:
    """Ignore SIGUSR1 and SIGUSR2 from now on (the process's start)."""
    for sig in IGNORED_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)


def ignore_interrupts() -> None:
    """Ignore Ctrl-C, SIGTERM and SIGHUP from now on (the command is over)."""
    for sig in (signal.SIGINT, *INTERRUPT_SIGNALS):
        signal.signal(sig, signal.SIG_IGN)
