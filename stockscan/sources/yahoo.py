"""``--source yahoo`` (the default): daily bars from Yahoo Finance through yfinance.

yfinance hides errors by default and returns an empty frame instead; we turn that off, so every
failure is raised, classified and recorded against its stock (see ``docs``/notes on Yahoo).
Transient failures are retried with exponential backoff and jitter; a rate limit that outlasts
the retries, or the network failing for several tickers in a row, stops the whole run with
``SourceUnavailable`` (exit 75, job resumable) instead of recording false "no data" failures.
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

from stockscan.analysis.model import Bars
from stockscan.errors import SourceUnavailable, StockError, UsageError
from stockscan.sources import Provenance
from stockscan.sources.pool import FetchAhead, RateBudget, Stopped

if TYPE_CHECKING:
    import pandas as pd

    from stockscan.sources.cache import FetchRecord, PriceCache

PRICE_COLUMNS = ("Open", "High", "Low", "Close", "Volume")
# Today's bar counts as complete from this exchange-local time on: NSE and BSE close at 15:30,
# New York at 16:00, London at 16:30; the margin lets Yahoo publish the closing values.
BAR_FINAL_AFTER = dt.time(17, 0)
# Consecutive tickers whose network failures outlasted the retries before the run stops.
NETWORK_BREAKER = 2
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


class YahooSource:
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
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
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
        self.budget = RateBudget(max_requests_per_s, monotonic=monotonic)
        self.requests = 0  # history() calls issued, retries included (bench/fetch.py)
        self._count_lock = threading.Lock()
        self._network_failures_in_a_row = 0
        self._provenance: dict[str, Provenance] = {}
        self._ahead: FetchAhead[_Plan, _Download] | None = None

    @property
    def min_interval_s(self) -> float:
        return self.budget.interval_s

    def provenance(self, ticker: str) -> Provenance | None:
        """Where the bars of the last ``fetch(ticker)`` came from."""
        return self._provenance.get(ticker)

    # --- the job loop's three calls ---------------------------------------------------------

    def prefetch(self, tickers: Sequence[str]) -> None:
        """Start downloading ``tickers`` (the order ``fetch`` will ask for them) on
        ``workers`` threads, within the rate budget. ``close()`` stops them."""
        import yfinance as yf

        yf.config.debug.hide_exceptions = False
        self.close()
        stop = threading.Event()
        self._ahead = FetchAhead(
            tickers, functools.partial(self._plan, stop=stop), workers=self.workers, stop=stop
        )

    def close(self) -> None:
        if self._ahead is not None:
            self._ahead.close()
            self._ahead = None

    def fetch(self, ticker: str) -> Bars:
        """The ticker's bars: from the cache when no new bar can exist yet; else the bars
        after the newest cached one, whose overlap must agree with the cache; else (a cold
        cache, or history re-adjusted by a split or dividend) the whole period again."""
        ahead = self._ahead.take(ticker) if self._ahead is not None else None
        if ahead is None:  # not prefetched: plan and download here
            plan, download = self._plan(ticker, stop=None)
        else:
            plan, future = ahead
            download = functools.partial(FetchAhead.result, future) if future is not None else None
        got = self._received(ticker, download) if download is not None else None
        if plan.span is None or got is None:
            return self._from_cache(ticker, plan)
        fresh = normalise_history(got.frame, ticker, now=got.at, keep_partial=self.keep_partial)
        if self.cache is None:
            self._remember(ticker, got.at, _version(), from_cache=False)
            return fresh
        if "start" in plan.span:
            from stockscan.sources.cache import agrees, complete_only, join

            cached = self.cache.bars(
                self.name, ticker, self.auto_adjust, since=self._window_start(got.at)
            )
            if cached is not None and agrees(cached, fresh):
                self._save(self.cache, ticker, complete_only(fresh), got, replace=False)
                return join(cached, fresh)
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
                    self.keep_partial and _market_may_be_open(now, record.exchange_tz)
                ):
                    return _Plan(now, None, record), None
                start = record.newest_date - dt.timedelta(days=self.overlap_days)
                span = {"start": start.isoformat()}
        download = functools.partial(self._download, ticker, span, stop=stop)
        return _Plan(now, span, record), download

    def _from_cache(self, ticker: str, plan: _Plan) -> Bars:
        assert self.cache is not None and plan.record is not None
        cached = self.cache.bars(
            self.name, ticker, self.auto_adjust, since=self._window_start(plan.now)
        )
        if cached is None:  # a record without bars: trust neither
            return self._whole_history(ticker, self.cache)
        self._remember(ticker, plan.record.fetched_at, plan.record.source_version, True)
        return cached

    def _whole_history(self, ticker: str, cache: PriceCache) -> Bars:
        span = {"period": self.period}
        got = self._received(ticker, functools.partial(self._download, ticker, span, stop=None))
        return self._saved(ticker, cache, got)

    def _saved(self, ticker: str, cache: PriceCache, got: _Download) -> Bars:
        from stockscan.sources.cache import complete_only

        bars = normalise_history(got.frame, ticker, now=got.at, keep_partial=self.keep_partial)
        self._save(cache, ticker, complete_only(bars), got, replace=True)
        return bars

    def _received(self, ticker: str, download: Callable[[], _Download]) -> _Download:
        """Run (or wait for) one download and apply the breaker, in the job's order: a rate
        limit that outlasted the retries, or the network failing for ``NETWORK_BREAKER``
        tickers in a row, stops the run instead of failing every stock after it."""
        try:
            got = download()
        except StockError as failure:
            if failure.kind == "rate_limited":
                raise SourceUnavailable(
                    f"Yahoo is rate-limiting requests (still after {self.retries} retries at "
                    f"{ticker}); try again later"
                ) from failure
            if failure.kind == "network":
                self._network_failures_in_a_row += 1
                if self._network_failures_in_a_row >= NETWORK_BREAKER:
                    raise SourceUnavailable(
                        f"cannot reach Yahoo ({failure.message}); the network looks down"
                    ) from failure
            raise
        self._network_failures_in_a_row = 0
        return got

    def _save(
        self, cache: PriceCache, ticker: str, bars: Bars, got: _Download, *, replace: bool
    ) -> None:
        tz = getattr(got.frame.index, "tz", None)
        version = _version()
        cache.save(
            self.name, ticker, self.auto_adjust, bars, fetched_at=got.at,
            exchange_tz=str(tz) if tz is not None else None, source_version=version,
            replace=replace,
        )  # fmt: skip
        self._remember(ticker, got.at, version, from_cache=False)

    def _remember(
        self, ticker: str, fetched_at: dt.datetime, version: str | None, from_cache: bool
    ) -> None:
        self._provenance[ticker] = Provenance(
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
        """``Ticker.history`` for ``span``, within the rate budget, retried and classified.

        ``stop`` is the fetch-ahead pool's: set, it abandons the download at its next wait.
        """
        import yfinance as yf

        yf.config.debug.hide_exceptions = False
        failure: StockError | None = None
        for attempt in range(self.retries + 1):
            if attempt and failure is not None and failure.kind != "rate_limited":
                self._wait(self._backoff(attempt), stop)
            self.budget.acquire(functools.partial(self._wait, stop=stop))
            with self._count_lock:
                self.requests += 1
            at = self.now()
            try:
                frame = yf.Ticker(ticker).history(
                    **span,
                    interval="1d",
                    auto_adjust=self.auto_adjust,
                    timeout=self.timeout_s,
                )
            except Exception as exc:  # the yfinance boundary: everything it raises is classified
                failure = classify(exc, ticker)
                if not failure.transient:
                    raise failure from exc
                if failure.kind == "rate_limited":  # every thread slows down, not just this one
                    self.budget.back_off(self._backoff(attempt + 1), min_interval_s=self.backoff_s)
                continue
            return _Download(frame, at)
        assert failure is not None
        raise failure

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


def _market_may_be_open(now: dt.datetime, exchange_tz: str | None) -> bool:
    """Whether a still-moving bar of today can exist (a weekday before ``BAR_FINAL_AFTER``)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        local = now.astimezone(ZoneInfo(exchange_tz)) if exchange_tz else now
    except (ZoneInfoNotFoundError, ValueError):
        local = now
    return local.weekday() < 5 and local.time() < BAR_FINAL_AFTER


def classify(exc: BaseException, ticker: str) -> StockError:
    """Map what yfinance (or curl_cffi beneath it) raised to an error kind."""
    from yfinance import exceptions as yfe

    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, yfe.YFRateLimitError):
        return StockError("rate_limited", text)
    if isinstance(exc, yfe.YFTickerMissingError | yfe.YFTzMissingError):
        return StockError("invalid_symbol", f"Yahoo does not know {ticker}: {exc}")
    if isinstance(exc, yfe.YFPricesMissingError | yfe.YFInvalidPeriodError):
        return StockError("no_data", f"Yahoo returned no prices for {ticker}: {exc}")
    if isinstance(exc, OSError | TimeoutError) or _is_transport_error(exc):
        return StockError("network", text)
    return StockError("source_error", text)


def _is_transport_error(exc: BaseException) -> bool:
    try:
        from curl_cffi.requests.exceptions import RequestException
    except ImportError:  # pragma: no cover - curl_cffi is a dependency of yfinance
        return False
    return isinstance(exc, RequestException)


def normalise_history(
    frame: pd.DataFrame, ticker: str, *, now: dt.datetime, keep_partial: bool = False
) -> Bars:
    """Turn ``Ticker.history()``'s frame into ``Bars`` of complete bars.

    The index is exchange-local and tz-aware; each bar's market date is its local date. A bar
    dated today in the exchange's time zone before ``BAR_FINAL_AFTER`` may still be moving: it is
    dropped unless
    ``keep_partial``, in which case the result is marked partial. NaN OHLC rows (Yahoo sends
    them before the open) are dropped; missing volume counts as 0.
    """
    import pandas as pd

    if frame is None or len(frame) == 0:
        raise StockError(
            "no_data",
            f"Yahoo returned no bars for {ticker} (Yahoo's 'possibly delisted' is often wrong "
            "for live NSE tickers; check the symbol)",
        )
    if isinstance(frame.columns, pd.MultiIndex):
        raise StockError("bad_data", f"unexpected MultiIndex columns from Yahoo for {ticker}")
    missing = [c for c in PRICE_COLUMNS if c not in frame.columns]
    if missing:
        raise StockError("bad_data", f"Yahoo frame for {ticker} lacks {', '.join(missing)}")
    frame = frame.loc[:, list(PRICE_COLUMNS)]
    index = pd.DatetimeIndex(frame.index)
    tz: Any = index.tz
    local_now = now.astimezone(tz) if tz is not None else now
    frame = frame.dropna(subset=["Open", "High", "Low", "Close"])
    if len(frame) == 0:
        raise StockError("no_data", f"Yahoo returned only empty bars for {ticker}")
    frame = frame.assign(Volume=frame["Volume"].fillna(0.0))
    last_date = pd.DatetimeIndex(frame.index)[-1].date()
    partial = last_date > local_now.date() or (
        last_date == local_now.date() and local_now.time() < BAR_FINAL_AFTER
    )
    if partial and not keep_partial:
        frame = frame.iloc[:-1]
        partial = False
        if len(frame) == 0:
            raise StockError("no_data", f"Yahoo has only today's unfinished bar for {ticker}")
    return Bars.from_frame(frame, last_bar_complete=not partial)
