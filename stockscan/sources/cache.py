"""The price cache: complete daily bars kept in SQLite so a re-run needs little or no network.

A layer the Yahoo source uses (``get_source("yahoo", cache=PriceCache(conn))``); its SQL lives in
``stockscan.store``. Every write is one short ``transaction()`` of its own, taken while the job
loop holds no transaction (between a stock's start and its result): the cache commits bars that
are market facts whoever asked, so a crash after it leaves a warm cache and nothing half-written.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np

from stockscan import store
from stockscan.analysis.model import Bars
from stockscan.db import transaction

# Relative difference between a cached and a refetched bar above which the provider is taken to
# have re-adjusted history (a split or dividend): far above float noise, far below any real
# adjustment (a 0.1% dividend is 1e-3).
TOLERANCE = 1e-5


@dataclass(frozen=True)
class FetchRecord:
    """The last successful fetch of one ticker's series."""

    fetched_at: dt.datetime
    newest_date: dt.date
    exchange_tz: str | None
    source_version: str | None


class PriceCache:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def last_fetch(self, source: str, ticker: str, auto_adjust: bool) -> FetchRecord | None:
        row = store.price_fetch(self.conn, source, ticker, auto_adjust)
        if row is None:
            return None
        return FetchRecord(
            fetched_at=dt.datetime.fromisoformat(row["fetched_at"]),
            newest_date=dt.date.fromisoformat(row["newest_date"]),
            exchange_tz=row["exchange_tz"],
            source_version=row["source_version"],
        )

    def bars(self, source: str, ticker: str, auto_adjust: bool, *, since: str = "") -> Bars | None:
        rows = store.price_bars(self.conn, source, ticker, auto_adjust, since=since)
        return rows_to_bars(rows) if rows else None

    def save(
        self,
        source: str,
        ticker: str,
        auto_adjust: bool,
        bars: Bars,
        *,
        fetched_at: dt.datetime,
        exchange_tz: str | None,
        source_version: str | None,
        replace: bool,
    ) -> None:
        """Store complete ``bars`` (merged into the cache, or replacing it when ``replace``)."""
        with transaction(self.conn):
            store.merge_price_bars(
                self.conn,
                source,
                ticker,
                auto_adjust,
                bars_to_rows(bars),
                fetched_at=fetched_at.astimezone(dt.UTC).isoformat(timespec="seconds"),
                exchange_tz=exchange_tz,
                source_version=source_version,
                replace=replace,
            )


def bars_to_rows(bars: Bars) -> list[store.PriceBarRow]:
    columns = zip(bars.dates, bars.open, bars.high, bars.low, bars.close, bars.volume, strict=True)
    return [
        (str(date), float(open_), float(high), float(low), float(close), float(volume))
        for date, open_, high, low, close, volume in columns
    ]


def rows_to_bars(rows: Sequence[store.PriceBarRow]) -> Bars:
    columns = list(zip(*rows, strict=True))
    return Bars(
        dates=np.asarray(columns[0], dtype="datetime64[D]"),
        open=np.asarray(columns[1], dtype="float64"),
        high=np.asarray(columns[2], dtype="float64"),
        low=np.asarray(columns[3], dtype="float64"),
        close=np.asarray(columns[4], dtype="float64"),
        volume=np.asarray(columns[5], dtype="float64"),
    )


def agrees(cached: Bars, fresh: Bars) -> bool:
    """Whether the bars both hold (same market date) are equal within ``TOLERANCE``."""
    common, in_cached, in_fresh = np.intersect1d(cached.dates, fresh.dates, return_indices=True)
    if len(common) == 0:
        return False  # no overlap to check against: trust nothing
    for name in ("open", "high", "low", "close"):
        old = getattr(cached, name)[in_cached]
        new = getattr(fresh, name)[in_fresh]
        if not np.allclose(old, new, rtol=TOLERANCE, atol=0.0):
            return False
    return True


def join(cached: Bars, fresh: Bars) -> Bars:
    """Cached bars before ``fresh`` begins, then ``fresh`` (whose last bar may be partial)."""
    keep = cached.dates < fresh.dates[0]
    return Bars(
        dates=np.concatenate([cached.dates[keep], fresh.dates]),
        open=np.concatenate([cached.open[keep], fresh.open]),
        high=np.concatenate([cached.high[keep], fresh.high]),
        low=np.concatenate([cached.low[keep], fresh.low]),
        close=np.concatenate([cached.close[keep], fresh.close]),
        volume=np.concatenate([cached.volume[keep], fresh.volume]),
        last_bar_complete=fresh.last_bar_complete,
    )


def complete_only(bars: Bars) -> Bars:
    """``bars`` without a still-moving last bar: only final bars are cached."""
    if bars.last_bar_complete:
        return bars
    return Bars(
        bars.dates[:-1], bars.open[:-1], bars.high[:-1], bars.low[:-1], bars.close[:-1],
        bars.volume[:-1],
    )  # fmt: skip


def next_final_bar(
    fetched_at: dt.datetime, exchange_tz: str | None, final_after: dt.time
) -> dt.datetime:
    """The first moment after ``fetched_at`` at which a new complete bar can exist: the next
    weekday's ``final_after`` in the exchange's time zone (today's, if not yet passed).

    Before it, a fetch can bring nothing the cache lacks. Holidays are not known here: a re-run
    on one costs one small request.
    """
    try:
        tz: dt.tzinfo = ZoneInfo(exchange_tz) if exchange_tz else dt.UTC
    except (ZoneInfoNotFoundError, ValueError):
        tz = dt.UTC
    local = fetched_at.astimezone(tz)
    day = local.date()
    if local.time() >= final_after:
        day += dt.timedelta(days=1)
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return dt.datetime.combine(day, final_after, tzinfo=tz)
