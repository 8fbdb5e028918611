"""The test doubles, one of each: a fake price source and a fake Yahoo market.

``FakeSource`` stands in for a whole price source (the job loop's side of the seam): deterministic
bars per ticker, failing on chosen tickers or calls. ``FakeMarket`` stands in for
``yfinance.Ticker`` (the real Yahoo source, cache, pool, retries and breaker run above it):
``history()`` answers with frames shaped like Yahoo's (a tz-aware Asia/Kolkata index, plain
columns, Dividends and Stock Splits). Both serve in-process tests and the subprocess harness
(``tests/reliability/harness.py``), so nothing here may import pandas or yfinance at the top.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from stockscan.errors import SourceUnavailable, StockError
from stockscan.sources import Fetched, PriceSource, Provenance
from stockscan.sources.demo import demo_bars

if TYPE_CHECKING:
    import pandas as pd

FRIDAY = np.datetime64("2026-11-27", "D")
IST = "Asia/Kolkata"


def say(line: str) -> None:
    """A line on stderr for a subprocess test to wait for (``HARNESS: …``)."""
    sys.stderr.write(f"HARNESS: {line}\n")
    sys.stderr.flush()


@dataclass
class FakeSource(PriceSource):
    """Deterministic bars (``demo_bars`` up to ``end``) per ticker, labelled ``name``.

    ``failures[ticker]`` is raised for that ticker; ``bad`` tickers get a NaN close three bars
    from the end; calls are counted from 1: ``unavailable_at`` raises ``SourceUnavailable``,
    ``fail_at`` a network ``StockError``, ``hang_at`` sleeps an hour (saying so on stderr);
    every call takes ``delay_s``.
    """

    name: str = "csv"  # type: ignore[assignment]
    end: np.datetime64 = FRIDAY
    failures: dict[str, BaseException] = field(default_factory=dict)
    bad: tuple[str, ...] = ()
    delay_s: float = 0.0
    hang_at: int | None = None
    unavailable_at: int | None = None
    fail_at: int | None = None
    calls: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FakeSource:
        """The harness's ``"source"`` hook: ``{"fail": {"T.NS": "no_data"}, "messages": {…},
        "bad": [...], "unavailable_at": 3, "hang_at": 2, "fail_at": 4, "delay_s": 0.2}``."""
        messages = config.get("messages", {})
        return cls(
            name="demo",
            failures={
                ticker: StockError(kind, messages.get(ticker, f"fake source: {ticker} fails"))
                for ticker, kind in config.get("fail", {}).items()
            },
            bad=tuple(config.get("bad", ())),
            delay_s=config.get("delay_s", 0.0),
            hang_at=config.get("hang_at"),
            unavailable_at=config.get("unavailable_at"),
            fail_at=config.get("fail_at"),
        )

    def fetch(self, ticker: str) -> Fetched:
        self.calls.append(ticker)
        call = len(self.calls)
        time.sleep(self.delay_s)
        if self.hang_at == call:
            say("hanging")
            time.sleep(3600)
        if self.unavailable_at == call:
            raise SourceUnavailable("fake source: rate limited")
        if self.fail_at == call:
            raise StockError("network", f"fake source: call {call} failed")
        if ticker in self.failures:
            raise self.failures[ticker]
        bars = demo_bars(ticker, self.end)
        if ticker in self.bad:
            close = bars.close.copy()
            close[-3] = np.nan
            bars = type(bars)(bars.dates, bars.open, bars.high, bars.low, close, bars.volume)
        return Fetched(bars, Provenance.read_now())


def market_frame(end: str, *, start: str = "2025-06-02", scale: float = 1.0) -> pd.DataFrame:
    """What ``Ticker.history(auto_adjust=True)`` returns: each date's prices are a fixed
    function of the date, so a longer frame extends a shorter one unless ``scale`` (a split
    re-adjusting history) changes them."""
    import pandas as pd

    index = pd.bdate_range(start=start, end=end, tz=IST, name="Date")
    days = np.asarray((index.tz_localize(None) - pd.Timestamp("2025-01-01")).days, "float64")
    close = (100 + 0.05 * days + 3 * np.sin(days / 9)) * scale
    return pd.DataFrame(
        {
            "Open": close - 0.5 * scale,
            "High": close + 1 * scale,
            "Low": close - 1 * scale,
            "Close": close,
            "Volume": np.full(len(index), 1000, dtype="int64"),
            "Dividends": 0.0,
            "Stock Splits": 0.0,
        },
        index=index,
    )


def demo_frame(ticker: str, end: np.datetime64 = FRIDAY) -> pd.DataFrame:
    """The demo bars of ``ticker`` as Yahoo would send them."""
    import pandas as pd

    bars = demo_bars(ticker, end)
    index = pd.DatetimeIndex(bars.dates.astype("datetime64[ns]"), name="Date")
    return pd.DataFrame(
        {
            "Open": bars.open, "High": bars.high, "Low": bars.low, "Close": bars.close,
            "Volume": bars.volume, "Dividends": 0.0, "Stock Splits": 0.0,
        },
        index=index.tz_localize(IST),
    )  # fmt: skip


def no_frame(ticker: str) -> pd.DataFrame:
    """What Yahoo sends for a ticker it has nothing of: no rows."""
    return market_frame("2026-11-27").iloc[0:0]


class FakeMarket:
    """Stands in for ``yfinance.Ticker`` (``monkeypatch.setattr(yfinance, "Ticker", market)``).

    ``frames[ticker]`` is everything Yahoo has of a ticker (else ``frame_for(ticker)``); a
    ``start=`` request gets the rows from that date. ``errors`` are raised first, one per call.
    Every call is recorded in ``calls`` (its ticker and keyword arguments), takes
    ``latency_s`` (``running``/``most``: calls in flight now and at most), and with
    ``announce`` is said on stderr. ``down``: every call raises a DNS-style ``OSError``;
    ``rate_limited``: every call raises ``YFRateLimitError``; ``hang``: calls for these tickers
    block for an hour.
    """

    def __init__(
        self,
        *,
        latency_s: float = 0.0,
        frame_for: Callable[[str], pd.DataFrame] = no_frame,
        announce: bool = False,
    ) -> None:
        self.frames: dict[str, pd.DataFrame] = {}
        self.errors: list[BaseException] = []
        self.calls: list[dict[str, object]] = []
        self.latency_s = latency_s
        self.frame_for = frame_for
        self.announce = announce
        self.down = False
        self.rate_limited = False
        self.hang: set[str] = set()
        self.running = 0
        self.most = 0
        self.lock = threading.Lock()

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> FakeMarket:
        """The harness's ``"yahoo"`` hook: ``{"latency_s": 0.05, "hang": ["T.NS"], "down": true,
        "rate_limited": true}``, demo bars for every ticker, each request said on stderr."""
        market = cls(latency_s=config.get("latency_s", 0.0), frame_for=demo_frame, announce=True)
        market.down = bool(config.get("down"))
        market.rate_limited = bool(config.get("rate_limited"))
        market.hang = set(config.get("hang", ()))
        return market

    def __call__(self, ticker: str) -> FakeMarket.Ticker:
        return FakeMarket.Ticker(self, ticker)

    class Ticker:
        def __init__(self, market: FakeMarket, ticker: str) -> None:
            self.market, self.ticker = market, ticker

        def history(self, **kwargs: object) -> pd.DataFrame:
            return self.market.history(self.ticker, kwargs)

    def history(self, ticker: str, kwargs: dict[str, object]) -> pd.DataFrame:
        with self.lock:
            self.calls.append({"ticker": ticker, **kwargs})
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            if self.announce:
                say(f"request {ticker}")
            time.sleep(self.latency_s)
            return self._answer(ticker, kwargs)
        finally:
            with self.lock:
                self.running -= 1

    def _answer(self, ticker: str, kwargs: dict[str, object]) -> pd.DataFrame:
        import pandas as pd

        if self.down:
            raise OSError(f"Could not resolve host: query2.finance.yahoo.com ({ticker})")
        if self.rate_limited:
            from yfinance.exceptions import YFRateLimitError

            raise YFRateLimitError()
        if ticker in self.hang:
            time.sleep(3600)
        with self.lock:
            error = self.errors.pop(0) if self.errors else None
        if error is not None:
            raise error
        frame = self.frames[ticker] if ticker in self.frames else self.frame_for(ticker)
        if "start" in kwargs:
            return frame[frame.index >= pd.Timestamp(str(kwargs["start"])).tz_localize(IST)]
        return frame
