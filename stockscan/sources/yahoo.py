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

if TYPE_CHECKING:
    import pandas as pd

PRICE_COLUMNS = ("Open", "High", "Low", "Close", "Volume")
# Today's bar counts as complete from this exchange-local time on: NSE and BSE close at 15:30,
# New York at 16:00, London at 16:30; the margin lets Yahoo publish the closing values.
BAR_FINAL_AFTER = dt.time(17, 0)
# Consecutive tickers whose network failures outlasted the retries before the run stops.
NETWORK_BREAKER = 2


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
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.period = period
        self.auto_adjust = auto_adjust
        self.retries = retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.keep_partial = keep_partial
        self.sleep = sleep
        self.now = now
        self._network_failures_in_a_row = 0

    def fetch(self, ticker: str) -> Bars:
        frame = self._download(ticker)
        return normalise_history(frame, ticker, now=self.now(), keep_partial=self.keep_partial)

    def _download(self, ticker: str) -> pd.DataFrame:
        import yfinance as yf

        yf.config.debug.hide_exceptions = False
        failure: StockError | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(self.backoff_s * 2 ** (attempt - 1) * (1 + random.random()))
            try:
                frame = yf.Ticker(ticker).history(
                    period=self.period,
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
