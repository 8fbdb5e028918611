"""``--source yahoo`` (the default): daily bars from Yahoo Finance through yfinance.

yfinance hides errors by default and returns an empty frame instead; we turn that off, so every
failure is raised, classified and recorded against its stock (see ``docs``/notes on Yahoo).
Transient failures are retried with exponential backoff and jitter; a rate limit that outlasts
the retries, or the network failing for several tickers in a row, stops the whole run with
``SourceUnavailable`` (exit 75, job resumable) instead of recording false "no data" failures.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from stockscan.analysis.model import Bars
from stockscan.errors import SourceUnavailable, StockError
from stockscan.sources import Provenance

if TYPE_CHECKING:
    import pandas as pd

    from stockscan.sources.cache import PriceCache

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
_PERIOD_DAYS = {"d": 1, "wk": 7, "mo": 31, "y": 366}


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
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
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
        # The request-rate budget: requests are spaced at least this far apart (retries too),
        # so a 2,000-ticker watchlist stays under Yahoo's per-IP limit. None: no spacing.
        self.min_interval_s = 1 / max_requests_per_s if max_requests_per_s else 0.0
        self.monotonic = monotonic
        self._last_request: float | None = None
        self.requests = 0  # history() calls issued, retries included (bench/fetch.py)
        self._network_failures_in_a_row = 0
        self._provenance: dict[str, Provenance] = {}

    def provenance(self, ticker: str) -> Provenance | None:
        """Where the bars of the last ``fetch(ticker)`` came from."""
        return self._provenance.get(ticker)

    def fetch(self, ticker: str) -> Bars:
        now = self.now()
        if self.cache is not None:
            return self._fetch_cached(ticker, self.cache, now)
        frame = self._download(ticker, period=self.period)
        bars = normalise_history(frame, ticker, now=now, keep_partial=self.keep_partial)
        self._remember(ticker, now, _version(), from_cache=False)
        return bars

    def _fetch_cached(self, ticker: str, cache: PriceCache, now: dt.datetime) -> Bars:
        """Cached bars when no new bar can exist yet; else the bars after the newest cached
        one, with an overlap that must agree with the cache; else the whole history again."""
        from stockscan.sources.cache import agrees, complete_only, join, next_final_bar

        record = cache.last_fetch(self.name, ticker, self.auto_adjust)
        if record is not None:
            since = self._window_start(now)
            fresh_until = next_final_bar(record.fetched_at, record.exchange_tz, BAR_FINAL_AFTER)
            if now < fresh_until and not (
                self.keep_partial and _market_may_be_open(now, record.exchange_tz)
            ):
                cached = cache.bars(self.name, ticker, self.auto_adjust, since=since)
                if cached is not None:
                    self._remember(ticker, record.fetched_at, record.source_version, True)
                    return cached
            start = record.newest_date - dt.timedelta(days=self.overlap_days)
            frame = self._download(ticker, start=start.isoformat())
            fresh = normalise_history(frame, ticker, now=now, keep_partial=self.keep_partial)
            cached = cache.bars(self.name, ticker, self.auto_adjust, since=since)
            if cached is not None and agrees(cached, fresh):
                self._save(cache, ticker, complete_only(fresh), frame, now, replace=False)
                return join(cached, fresh)
            # Yahoo re-adjusted this ticker's history (a split or dividend) since it was
            # cached: every cached bar is now on the wrong scale.
        frame = self._download(ticker, period=self.period)
        bars = normalise_history(frame, ticker, now=now, keep_partial=self.keep_partial)
        self._save(cache, ticker, complete_only(bars), frame, now, replace=True)
        return bars

    def _save(
        self,
        cache: PriceCache,
        ticker: str,
        bars: Bars,
        frame: pd.DataFrame,
        now: dt.datetime,
        *,
        replace: bool,
    ) -> None:
        tz = getattr(frame.index, "tz", None)
        version = _version()
        cache.save(
            self.name, ticker, self.auto_adjust, bars, fetched_at=now,
            exchange_tz=str(tz) if tz is not None else None, source_version=version,
            replace=replace,
        )  # fmt: skip
        self._remember(ticker, now, version, from_cache=False)

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

    def _pace(self) -> None:
        """Wait until the rate budget allows the next request."""
        if self.min_interval_s and self._last_request is not None:
            wait = self._last_request + self.min_interval_s - self.monotonic()
            if wait > 0:
                self.sleep(wait)
        self._last_request = self.monotonic()

    def _download(self, ticker: str, **span: str) -> pd.DataFrame:
        """``Ticker.history`` for ``span`` (``period=`` or ``start=``), retried and classified."""
        import yfinance as yf

        yf.config.debug.hide_exceptions = False
        failure: StockError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.backoff_s * 2 ** (attempt - 1) * (1 + random.random()))
            self._pace()
            self.requests += 1
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
                continue
            self._network_failures_in_a_row = 0
            return frame
        assert failure is not None
        if failure.kind == "rate_limited":
            raise SourceUnavailable(
                f"Yahoo is rate-limiting requests (still after {self.retries} retries at "
                f"{ticker}); try again later"
            )
        self._network_failures_in_a_row += 1
        if self._network_failures_in_a_row >= NETWORK_BREAKER:
            raise SourceUnavailable(
                f"cannot reach Yahoo ({failure.message}); the network looks down"
            )
        raise failure


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
