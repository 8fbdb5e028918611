"""What yfinance's ``Ticker.history()`` frames mean: market-dated bars, and which are final.

The index is exchange-local and tz-aware; each bar's market date is its local date. Today's bar
is final only from ``BAR_FINAL_AFTER`` exchange-local time on (before it the market may still
move it).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from stockscan.analysis.model import Bars
from stockscan.errors import StockError

if TYPE_CHECKING:
    import pandas as pd

PRICE_COLUMNS = ("Open", "High", "Low", "Close", "Volume")
# Today's bar counts as complete from this exchange-local time on: NSE and BSE close at 15:30,
# New York at 16:00, London at 16:30; the margin lets Yahoo publish the closing values.
BAR_FINAL_AFTER = dt.time(17, 0)


def market_may_be_open(now: dt.datetime, exchange_tz: str | None) -> bool:
    """Whether a still-moving bar of today can exist (a weekday before ``BAR_FINAL_AFTER``)."""
    try:
        local = now.astimezone(ZoneInfo(exchange_tz)) if exchange_tz else now
    except (ZoneInfoNotFoundError, ValueError):
        local = now
    return local.weekday() < 5 and local.time() < BAR_FINAL_AFTER


def normalise_history(
    frame: pd.DataFrame, ticker: str, *, now: dt.datetime, keep_partial: bool = False
) -> Bars:
    """Turn ``Ticker.history()``'s frame into ``Bars`` of complete bars.

    The index is exchange-local and tz-aware; each bar's market date is its local date. A bar
    dated today in the exchange's time zone before ``BAR_FINAL_AFTER`` may still be moving: it is
    dropped unless
    ``keep_partial``, in which case the result is marked partial. NaN OHLC rows (Yahoo sends
    them before the open) and rows with a non-positive price are dropped; missing volume
    counts as 0.
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
    # A bar with a zero or negative price (Yahoo sends a zero Open now and then) is dropped
    # like a NaN row: one missing day, not a stock failing every night while the bar stays in
    # the cache's window (it is never cached either).
    frame = frame[(frame[["Open", "High", "Low", "Close"]] > 0).all(axis=1)]
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
