"""``--source yahoo`` (the default): daily bars from Yahoo Finance through yfinance.

yfinance hides errors by default and returns an empty frame instead; we turn that off, so every
failure is raised, classified (``yahoo_http.classify``) and recorded against its stock;
``tests/wire/`` holds that to real yfinance talking to a loopback stand-in for Yahoo.
Transient failures (no answer, HTTP 429, HTTP 5xx) are retried with exponential backoff and
jitter; one that outlasts a ticker's retries, or ``BREAKER_S`` seconds in which every request
failed so, stops the whole run with ``SourceUnavailable`` (exit 75, job resumable): a network
or server failure is never recorded as a stock's failure.

yfinance sends its requests through a curl_cffi session of ours (``yahoo_http.paced_session``),
so each real HTTP request (timezone probe, cookie, crumb, consent page, chart, quoteSummary, and
yfinance's own second try) is paced by the rate budget, counted, given at most what is left of
its ``history()`` call's deadline (``YahooSource._send``), and answered with a classification by
HTTP status and Yahoo's error code rather than by the exception class yfinance raises
(``stockscan.sources.yahoo_http``).
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from stockscan import clock
from stockscan.analysis.model import Bars
from stockscan.errors import SourceUnavailable, StockError, UsageError
from stockscan.sources import yahoo_http as http
from stockscan.sources.base import Fetched, PriceSource, Provenance
from stockscan.sources.pool import FetchAhead, RateBudget, Stopped
from stockscan.sources.yahoo_frames import BAR_FINAL_AFTER, market_may_be_open, normalise_history

if TYPE_CHECKING:
    import pandas as pd

    from stockscan.sources.cache import FetchRecord, PriceCache

# The breaker: the run stops once every request for this many seconds failed transiently (no
# answer, 429, 5xx), counted across every download thread, whatever the number of tickers and
# workers; and at once when one ticker's transient failures outlast its retries.
BREAKER_S = 20.0
# A 429 doubles the interval between requests (for every thread), up to this; and pauses
# everyone for the retry's backoff, up to BACKOFF_CAP_S.
MAX_INTERVAL_S = 4.0
BACKOFF_CAP_S = 8.0
# Calendar days a cached ticker's refetch reaches back before its newest cached bar: the
# overlap that shows whether Yahoo re-adjusted history (a week holds several trading days
# even around a long holiday).
OVERLAP_DAYS = 7
# The defaults of --max-rps and --fetch-workers. Yahoo publishes no limit; public reports are
# of thousands of history() calls a night at one or two a second without a 429, and of 429s
# within a thousand calls made as fast as threads allow. Two a second is 1,000 s (17 min) for
# 2,000 tickers; a 429 halves the rate for the rest of the run.
DEFAULT_MAX_RPS = 2.0
DEFAULT_WORKERS = 4  # enough to keep 2 requests/s going at up to 2 s a request
MAX_WORKERS = 16
_PERIOD_DAYS = {"d": 1, "wk": 7, "mo": 31, "y": 366}


@dataclass(frozen=True)
class _Plan:
    """What one ticker needs, decided from the cache on the main thread."""

    now: dt.datetime
    span: dict[str, str] | None  # the request (period= or start=); None: the cache is current
    record: FetchRecord | None  # the cache's record of the ticker's last fetch


@dataclass(frozen=True)
class _Download:
    frame: pd.DataFrame
    at: dt.datetime  # when the request that answered was sent


class YahooSource(PriceSource):
    name: Final = "yahoo"

    def __init__(
        self,
        *,
        period: str = "2y",
        auto_adjust: bool = True,
        retries: int = 3,
        backoff_s: float = 1.0,
        timeout_s: float = 20.0,
        keep_partial: bool = False,
        cache: PriceCache | None = None,
        overlap_days: int = OVERLAP_DAYS,
        max_requests_per_s: float | None = None,
        workers: int = DEFAULT_WORKERS,
        sleep: Callable[[float], object] = time.sleep,
        now: Callable[[], dt.datetime] = clock.now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= workers <= MAX_WORKERS:
            raise UsageError(f"--fetch-workers {workers}: must be from 1 to {MAX_WORKERS}")
        self.period = period
        self.auto_adjust = auto_adjust
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.keep_partial = keep_partial
        self.sleep = sleep
        self.now = now
        self.cache = cache
        self.overlap_days = overlap_days
        self.workers = workers
        # The request-rate budget, shared by every download thread (retries too), so a
        # 2,000-ticker watchlist stays under Yahoo's per-IP limit. None: no limit.
        self.budget = RateBudget(
            max_requests_per_s, monotonic=monotonic, max_interval_s=MAX_INTERVAL_S
        )
        self.monotonic = monotonic
        self.requests = 0  # real HTTP requests sent (all of yfinance's, through our session)
        self.calls = 0  # history() calls made, retries included (bench/fetch.py, fakes)
        self._count_lock = threading.Lock()
        self._attempt = http.ATTEMPT
        self._session: Any = None
        # The breaker's state, shared by every download thread.
        self._failing_since: float | None = None  # start of the run of transient failures
        self._failures_in_a_row = 0
        self._last_answer_at = monotonic()
        self._tripped: str | None = None  # why the run stops (set once)
        self._last_failure: tuple[StockError, str] | None = None
        self._stop: threading.Event | None = None
        self._ahead: FetchAhead[_Plan, _Download] | None = None

    @property
    def min_interval_s(self) -> float:
        return self.budget.interval_s

    def use_cache(self, cache: PriceCache) -> None:
        self.cache = cache

    # --- the job loop's three calls ---------------------------------------------------------

    def prefetch(self, tickers: Sequence[str]) -> None:
        """Start downloading ``tickers`` (the order ``fetch`` will ask for them) on
        ``workers`` threads, within the rate budget. ``close()`` stops them."""
        self._use_session()
        self.close()
        stop = threading.Event()
        self._stop = stop
        self._ahead = FetchAhead(
            tickers, functools.partial(self._plan, stop=stop), workers=self.workers, stop=stop
        )

    def close(self) -> None:
        if self._ahead is not None:
            self._ahead.close()
            self._ahead = None

    def fetch(self, ticker: str) -> Fetched:
        """The ticker's bars and where they came from: from the cache when no new bar can exist
        yet; else the bars after the newest cached one, whose overlap must agree with the
        cache; else (a cold cache, or history re-adjusted by a split or dividend) the whole
        period again."""
        ahead = self._ahead.take(ticker) if self._ahead is not None else None
        if ahead is None:  # not prefetched: plan and download here
            plan, download = self._plan(ticker, stop=None)
        else:
            plan, future = ahead
            download = (
                functools.partial(FetchAhead.result, future, abandon=self._breaker_due)
                if future is not None
                else None
            )
        got = self._received(ticker, download) if download is not None else None
        if plan.span is None or got is None:
            return self._from_cache(ticker, plan)
        fresh = normalise_history(got.frame, ticker, now=got.at, keep_partial=self.keep_partial)
        if self.cache is None:
            return Fetched(fresh, self._provenance(got.at, _version(), from_cache=False))
        if "start" in plan.span:
            from stockscan.sources.cache import agrees, complete_only, join

            cached = self.cache.bars(
                self.name, ticker, self.auto_adjust, since=self._window_start(got.at)
            )
            if cached is not None and agrees(cached, fresh):
                saved = self._save(self.cache, ticker, complete_only(fresh), got, replace=False)
                return Fetched(join(cached, fresh), saved)
            # Yahoo re-adjusted this ticker's history (a split or dividend) since it was
            # cached: every cached bar is now on the wrong scale.
            return self._whole_history(ticker, self.cache)
        return self._saved(ticker, self.cache, got)

    # --- planning and settling: the main thread, where the cache's connection lives ---------

    def _plan(
        self, ticker: str, *, stop: threading.Event | None
    ) -> tuple[_Plan, Callable[[], _Download] | None]:
        """The request ``ticker`` needs (and the call that makes it), or none."""
        from stockscan.sources.cache import next_final_bar

        now = self.now()
        span = {"period": self.period}
        record = None
        if self.cache is not None:
            record = self.cache.last_fetch(self.name, ticker, self.auto_adjust)
            if record is not None:
                fresh_until = next_final_bar(record.fetched_at, record.exchange_tz, BAR_FINAL_AFTER)
                if now < fresh_until and not (
                    self.keep_partial and market_may_be_open(now, record.exchange_tz)
                ):
                    return _Plan(now, None, record), None
                start = record.newest_date - dt.timedelta(days=self.overlap_days)
                span = {"start": start.isoformat()}
        download = functools.partial(self._download, ticker, span, stop=stop)
        return _Plan(now, span, record), download

    def _from_cache(self, ticker: str, plan: _Plan) -> Fetched:
        assert self.cache is not None and plan.record is not None
        cached = self.cache.bars(
            self.name, ticker, self.auto_adjust, since=self._window_start(plan.now)
        )
        if cached is None:  # a record without bars: trust neither
            return self._whole_history(ticker, self.cache)
        provenance = self._provenance(plan.record.fetched_at, plan.record.source_version, True)
        return Fetched(cached, provenance)

    def _whole_history(self, ticker: str, cache: PriceCache) -> Fetched:
        span = {"period": self.period}
        got = self._received(ticker, functools.partial(self._download, ticker, span, stop=None))
        return self._saved(ticker, cache, got)

    def _saved(self, ticker: str, cache: PriceCache, got: _Download) -> Fetched:
        from stockscan.sources.cache import complete_only

        bars = normalise_history(got.frame, ticker, now=got.at, keep_partial=self.keep_partial)
        return Fetched(bars, self._save(cache, ticker, complete_only(bars), got, replace=True))

    def _received(self, ticker: str, download: Callable[[], _Download]) -> _Download:
        """Run (or wait for) one download and apply the breaker, in the job's order: a
        transient failure (network, 429, 5xx) that outlasted the ticker's retries, or
        ``BREAKER_S`` seconds of nothing but transient failures across every thread, stops
        the run instead of failing this stock or any after it."""
        try:
            return download()
        except Stopped:
            if self._tripped is None:
                raise
            raise SourceUnavailable(self._tripped) from None
        except StockError as failure:
            if failure.transient:
                raise SourceUnavailable(
                    self._tripped or self._unavailable(failure, ticker)
                ) from failure
            raise

    def _unavailable(self, failure: StockError, ticker: str, *, breaker: bool = False) -> str:
        why = (
            f"every request failed for {BREAKER_S:g} s, the last at {ticker}"
            if breaker
            else f"still after {self.retries} retries at {ticker}"
        )
        if failure.kind == "rate_limited":
            return f"Yahoo is rate-limiting requests ({why}); try again later"
        return f"cannot reach Yahoo ({failure.message}; {why}); the network looks down"

    # --- the breaker: any thread -----------------------------------------------------------

    def _answered(self) -> None:
        """An attempt ended with an answer that is not a transient failure."""
        with self._count_lock:
            self._failing_since = None
            self._failures_in_a_row = 0
            self._last_answer_at = self.monotonic()

    def _failed(self, failure: StockError, started_at: float, ticker: str) -> None:
        """An attempt started at ``started_at`` ended with a transient failure."""
        with self._count_lock:
            if self._failing_since is None:
                self._failing_since = max(started_at, self._last_answer_at)
            self._failures_in_a_row += 1
            self._last_failure = (failure, ticker)
        self._breaker_due()

    def _breaker_due(self) -> bool:
        """Whether every request for ``BREAKER_S`` has failed transiently (then the run stops:
        every wait and request of every thread is abandoned)."""
        with self._count_lock:
            if self._tripped is not None:
                return True
            since = self._failing_since
            if since is None or self._failures_in_a_row < 2 or self.monotonic() - since < BREAKER_S:
                return False
            assert self._last_failure is not None
            failure, ticker = self._last_failure
            self._tripped = self._unavailable(failure, ticker, breaker=True)
        if self._stop is not None:
            self._stop.set()
        return True

    def _save(
        self, cache: PriceCache, ticker: str, bars: Bars, got: _Download, *, replace: bool
    ) -> Provenance:
        tz = getattr(got.frame.index, "tz", None)
        version = _version()
        cache.save(
            self.name, ticker, self.auto_adjust, bars, fetched_at=got.at,
            exchange_tz=str(tz) if tz is not None else None, source_version=version,
            replace=replace,
        )  # fmt: skip
        return self._provenance(got.at, version, from_cache=False)

    def _provenance(
        self, fetched_at: dt.datetime, version: str | None, from_cache: bool
    ) -> Provenance:
        return Provenance(
            fetched_at=fetched_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
            source_version=version,
            auto_adjust=self.auto_adjust,
            from_cache=from_cache,
        )

    def _window_start(self, now: dt.datetime) -> str:
        """The first market date a full fetch of ``period`` would return, give or take a
        day: cached bars older than that are kept but not analysed."""
        for unit, days in _PERIOD_DAYS.items():
            count = self.period.removesuffix(unit)
            if count != self.period and count.isdigit():
                return (now.date() - dt.timedelta(days=int(count) * days)).isoformat()
        return ""  # "max" or an unknown period: everything cached

    # --- the request: any thread; touches no database -----------------------------------------

    def _download(
        self, ticker: str, span: dict[str, str], *, stop: threading.Event | None
    ) -> _Download:
        """``Ticker.history`` for ``span``, retried and classified; every HTTP request inside
        it goes through our session, within the rate budget and the call's deadline.

        ``stop`` is the fetch-ahead pool's: set, it abandons the download at its next wait or
        request.
        """
        import yfinance as yf

        self._use_session()
        failure: StockError | None = None
        for attempt in range(self.retries + 1):
            if self._breaker_due():
                raise Stopped
            if attempt and failure is not None and failure.kind != "rate_limited":
                self._wait(self._backoff(attempt), stop)
            with self._count_lock:
                self.calls += 1
            at = self.now()
            started = self.monotonic()
            state = self._attempt
            state.deadline, state.stop, state.answers, state.log = (
                started + self.timeout_s,
                stop,
                [],
                [],
            )
            http.quiet_yfinance()
            try:
                frame = yf.Ticker(ticker).history(
                    **span,
                    interval="1d",
                    auto_adjust=self.auto_adjust,
                    timeout=self.timeout_s,
                )
            except Stopped:
                raise
            except Exception as exc:  # the yfinance boundary: everything it raises is classified
                failure = http.classify(exc, ticker, state.answers, state.log)
                if not failure.transient:
                    self._answered()
                    raise failure from exc
                self._failed(failure, started, ticker)
                if failure.kind == "rate_limited":  # every thread slows down, not just this one
                    self.budget.back_off(
                        min(self._backoff(attempt + 1), BACKOFF_CAP_S),
                        min_interval_s=self.backoff_s,
                    )
                continue
            finally:
                state.deadline = None
            self._answered()
            return _Download(frame, at)
        assert failure is not None
        raise failure

    # --- the session: every HTTP request yfinance sends, on any thread -------------------------

    def _use_session(self) -> None:
        """Make yfinance send through our session (yfinance keeps one, process-wide)."""
        import yfinance as yf
        import yfinance.data

        yf.config.debug.hide_exceptions = False
        if self._session is None:
            self._session = http.paced_session(self._send)
        yfinance.data.YfData(session=self._session)

    def _send(self, send: Callable[..., Any], method: str, url: str, **kwargs: Any) -> Any:
        """One real request: paced, counted, bounded by the call's deadline, classified."""
        from curl_cffi.requests.exceptions import Timeout

        state = self._attempt
        if state.stop is not None and state.stop.is_set():
            raise Stopped
        queued = self.monotonic()
        self.budget.acquire(functools.partial(self._wait, stop=state.stop))
        if state.deadline is not None:  # the deadline is for answers: waiting our turn is not
            state.deadline += self.monotonic() - queued  # Yahoo's slowness (a low --max-rps)
        with self._count_lock:
            self.requests += 1
        timeout = min(float(kwargs.get("timeout") or self.timeout_s), self.timeout_s)
        if state.deadline is not None:
            left = state.deadline - self.monotonic()
            if left <= 0:
                raise Timeout(f"stockscan: {self.timeout_s:g} s for this fetch ran out ({url})")
            timeout = min(timeout, left)
        kwargs["timeout"] = timeout
        endpoint = http.endpoint(url)
        response = send(method, url, **kwargs)
        status = int(response.status_code)
        state.answers.append((endpoint, status))
        if status == 429:
            self.budget.back_off(0.0, min_interval_s=self.backoff_s)
            raise http.YahooAnswered(status, endpoint, None, url.split("?")[0])
        if status >= 500 and endpoint in ("chart", "quote"):
            raise http.YahooAnswered(
                status, endpoint, http.yahoo_code(response.content), url.split("?")[0]
            )
        if status == 404 and endpoint in ("chart", "quote"):
            code = http.yahoo_code(response.content)
            if code == "Not Found":
                raise http.YahooAnswered(status, endpoint, code, url.split("?")[0])
        return response

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter before retry number ``attempt`` (1, 2, …)."""
        return self.backoff_s * 2 ** (attempt - 1) * (1 + random.random())

    def _wait(self, seconds: float, stop: threading.Event | None) -> None:
        if stop is None:
            self.sleep(seconds)  # the main thread: Ctrl-C interrupts the sleep
            return
        if stop.wait(seconds):
            raise Stopped


def _version() -> str:
    import yfinance as yf

    return f"yfinance {getattr(yf, '__version__', 'unknown')}"


__all__ = ["BAR_FINAL_AFTER", "YahooSource", "normalise_history"]
