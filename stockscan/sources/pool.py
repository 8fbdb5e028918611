"""Fetch-ahead for a network source: a bounded pool of download threads and a request-rate budget.

The job loop stays one stock after another on the main thread; only the network requests run
ahead of it. ``FetchAhead`` plans the next tickers on the calling (main) thread, where the
SQLite connection lives, and hands each one's download to one of ``workers`` daemon threads.
The main thread then takes the downloads in the job's order. Workers touch no database and no
signal handler: Ctrl-C, SIGTERM and the source's breaker act on the main thread, which then
calls ``close()``; the workers stop before their next request or wait, and being daemons they
never hold up the process's exit (a request already in flight ends within its timeout).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

P = TypeVar("P")  # a ticker's plan
R = TypeVar("R")  # what its download returns

# How long the main thread blocks on a download before looking again (signal handlers run
# between looks either way; the loop only bounds each wait).
POLL_S = 0.5


class Stopped(Exception):
    """The pool was closed: a worker's request or wait is abandoned."""


class RateBudget:
    """At most ``per_s`` request starts per second across every thread (None: no limit).

    Each request reserves the next free slot under a lock and waits for it outside the lock.
    ``back_off`` (Yahoo said "too many requests") pushes every later slot back and halves the
    rate for the rest of the run, down to one request every ``max_interval_s`` (None: no
    floor): however many 429s the threads see, the slots never spread out beyond it.
    """

    def __init__(
        self,
        per_s: float | None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        max_interval_s: float | None = None,
    ) -> None:
        self.interval_s = 1 / per_s if per_s else 0.0
        self.max_interval_s = max_interval_s
        self.monotonic = monotonic
        self._next: float | None = None
        self._lock = threading.Lock()

    def acquire(self, sleep: Callable[[float], object]) -> None:
        """Wait (with ``sleep``) until the next request may start."""
        with self._lock:
            now = self.monotonic()
            slot = now if self._next is None else max(now, self._next)
            self._next = slot + self.interval_s
        if slot > now:
            sleep(slot - now)

    def back_off(self, seconds: float, *, min_interval_s: float) -> None:
        """No request for ``seconds``, then half the rate (at least ``min_interval_s`` apart)."""
        with self._lock:
            self.interval_s = max(2 * self.interval_s, min_interval_s)
            if self.max_interval_s is not None:
                self.interval_s = min(self.interval_s, self.max_interval_s)
            resume = self.monotonic() + seconds
            self._next = resume if self._next is None else max(self._next, resume)


class FetchAhead(Generic[P, R]):
    """Downloads for ``order`` running ahead of the caller, at most ``workers`` at a time.

    ``plan(ticker)`` runs on the caller's thread when a ticker enters the window and returns
    the ticker's plan and, when it needs the network, the download to run on a worker. ``take``
    returns a ticker's plan and its download's future (None when it needed none); tickers the
    caller passed over are dropped. A ticker outside ``order`` is not planned here (``take``
    returns None) and the caller does its work itself.
    """

    def __init__(
        self,
        order: Sequence[str],
        plan: Callable[[str], tuple[P, Callable[[], R] | None]],
        *,
        workers: int,
        stop: threading.Event | None = None,
        lookahead: int = 64,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, not {workers}")
        self._order = deque(order)
        self._plan = plan
        self._window = 2 * workers  # downloads queued or running: keeps every worker busy
        self._lookahead = max(lookahead, self._window)  # planned tickers not yet taken
        self._planned: dict[str, tuple[P, Future[R] | None]] = {}
        self._sequence: deque[str] = deque()
        self._downloads = 0  # planned downloads not yet taken
        self._queue: deque[tuple[Future[R], Callable[[], R]]] = deque()
        self._ready = threading.Condition()
        self._stop = stop or threading.Event()
        self._threads = [
            threading.Thread(target=self._work, name=f"stockscan-fetch-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()
        try:
            self._fill()
        except BaseException:  # a plan failed (the cache's database, say): no idle workers left
            self.close()
            raise

    def take(self, ticker: str) -> tuple[P, Future[R] | None] | None:
        if ticker not in self._planned and ticker in self._order:
            self._plan_until(ticker)
        if ticker not in self._planned:
            return None
        while self._sequence:  # drop what the caller passed over (given up, say)
            head = self._sequence.popleft()
            planned = self._planned.pop(head)
            if planned[1] is not None:
                self._downloads -= 1
                if head != ticker:
                    planned[1].cancel()
            if head == ticker:
                self._fill()
                return planned
        raise AssertionError(f"{ticker} planned but not in sequence")  # pragma: no cover

    @staticmethod
    def result(future: Future[R], abandon: Callable[[], bool] | None = None) -> R:
        """The download's result, waited for in short steps so signals are seen at once;
        ``Stopped`` as soon as ``abandon()`` says so (a request still in flight is not
        waited for)."""
        while True:
            try:
                return future.result(timeout=POLL_S)
            except TimeoutError:
                if future.done():  # the download itself raised TimeoutError
                    raise
            if abandon is not None and abandon():
                raise Stopped

    def close(self) -> None:
        """Stop every worker at its next request or wait; never blocks."""
        self._stop.set()
        with self._ready:
            for future, _ in self._queue:
                future.cancel()
            self._queue.clear()
            self._ready.notify_all()

    def _plan_until(self, ticker: str) -> None:
        while self._order:
            head = self._order.popleft()
            self._add(head)
            if head == ticker:
                return

    def _fill(self) -> None:
        while (
            self._order and self._downloads < self._window and len(self._sequence) < self._lookahead
        ):
            self._add(self._order.popleft())

    def _add(self, ticker: str) -> None:
        if ticker in self._planned:
            return  # a ticker listed twice is planned once
        plan, download = self._plan(ticker)
        future: Future[R] | None = None
        if download is not None:
            future = Future()
            self._downloads += 1
            with self._ready:
                self._queue.append((future, download))
                self._ready.notify()
        self._planned[ticker] = (plan, future)
        self._sequence.append(ticker)

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._stop.is_set():
                    self._ready.wait()
                if self._stop.is_set():
                    return
                future, download = self._queue.popleft()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(download())
            except BaseException as exc:  # handed to the main thread, which decides
                future.set_exception(exc)
