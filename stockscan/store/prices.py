"""The price cache: daily bars cached per (source, ticker, auto_adjust) by
``stockscan.sources.cache``. Callers wrap every write in transaction(); merge_price_bars also
records the fetch, so the bars and "when were they fetched" can never disagree after a crash."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TypedDict

from stockscan.store.base import _rows

PriceBarRow = tuple[str, float, float, float, float, float]  # market_date, OHLC, volume


class PriceFetch(TypedDict):
    """The last fetch of one cached series (price_fetches)."""

    fetched_at: str
    newest_date: str
    exchange_tz: str | None
    source_version: str | None


def price_fetch(
    conn: sqlite3.Connection, source: str, ticker: str, auto_adjust: bool
) -> PriceFetch | None:
    found = _rows(
        PriceFetch,
        conn.execute(
            "SELECT fetched_at, newest_date, exchange_tz, source_version FROM price_fetches"
            " WHERE source = ? AND ticker = ? AND auto_adjust = ?",
            (source, ticker, int(auto_adjust)),
        ),
    )
    return found[0] if found else None


def price_bars(
    conn: sqlite3.Connection, source: str, ticker: str, auto_adjust: bool, *, since: str = ""
) -> list[PriceBarRow]:
    """Cached bars from ``since`` on (all when empty), oldest first."""
    rows: list[PriceBarRow] = conn.execute(
        "SELECT market_date, open, high, low, close, volume FROM price_bars"
        " WHERE source = ? AND ticker = ? AND auto_adjust = ? AND market_date >= ?"
        " ORDER BY market_date",
        (source, ticker, int(auto_adjust), since),
    ).fetchall()
    return rows


def merge_price_bars(
    conn: sqlite3.Connection,
    source: str,
    ticker: str,
    auto_adjust: bool,
    rows: Sequence[PriceBarRow],
    *,
    fetched_at: str,
    exchange_tz: str | None,
    source_version: str | None,
    replace: bool = False,
) -> None:
    """Upsert ``rows`` (after deleting the ticker's cached bars when ``replace``) and record
    the fetch. The newest date recorded is the newest bar cached, whatever ``rows`` holds."""
    key = (source, ticker, int(auto_adjust))
    if replace:
        conn.execute(
            "DELETE FROM price_bars WHERE source = ? AND ticker = ? AND auto_adjust = ?", key
        )
    conn.executemany(
        "INSERT INTO price_bars (source, ticker, auto_adjust, market_date, open, high, low,"
        " close, volume) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (source, ticker, auto_adjust, market_date) DO UPDATE SET"
        " open = excluded.open, high = excluded.high, low = excluded.low,"
        " close = excluded.close, volume = excluded.volume",
        [(*key, *row) for row in rows],
    )
    newest = conn.execute(
        "SELECT max(market_date) FROM price_bars WHERE source = ? AND ticker = ?"
        " AND auto_adjust = ?",
        key,
    ).fetchone()[0]
    if newest is None:
        return
    conn.execute(
        "INSERT INTO price_fetches (source, ticker, auto_adjust, fetched_at, newest_date,"
        " exchange_tz, source_version) VALUES (?, ?, ?, ?, ?, ?, ?)"
        " ON CONFLICT (source, ticker, auto_adjust) DO UPDATE SET"
        " fetched_at = excluded.fetched_at, newest_date = excluded.newest_date,"
        " exchange_tz = excluded.exchange_tz, source_version = excluded.source_version",
        (*key, fetched_at, newest, exchange_tz, source_version),
    )


def price_prune_effects(
    conn: sqlite3.Connection, *, unused_before: str | None, bars_before: str | None
) -> dict[str, int]:
    """What ``prune_prices`` would delete: the series (bars and fetch record) of tickers last
    fetched before ``unused_before``; the other tickers' bars dated before ``bars_before``,
    and the fetch records of the series that leaves with no bar."""
    series = bars = old_bars = 0
    if unused_before is not None:
        series, bars = conn.execute(
            "SELECT count(*), coalesce(sum((SELECT count(*) FROM price_bars AS b"
            "   WHERE b.source = f.source AND b.ticker = f.ticker"
            "   AND b.auto_adjust = f.auto_adjust)), 0)"
            " FROM price_fetches AS f WHERE f.fetched_at < ?",
            (unused_before,),
        ).fetchone()
    emptied = 0
    if bars_before is not None:
        old_bars = conn.execute(
            "SELECT count(*) FROM price_bars AS b WHERE b.market_date < ?"
            " AND NOT EXISTS (SELECT 1 FROM price_fetches AS f WHERE f.source = b.source"
            "   AND f.ticker = b.ticker AND f.auto_adjust = b.auto_adjust AND f.fetched_at < ?)",
            (bars_before, unused_before or ""),
        ).fetchone()[0]
        # A series whose every bar is that old (a delisted ticker still asked for) loses its
        # fetch record too: a record promises bars.
        emptied = conn.execute(
            "SELECT count(*) FROM price_fetches WHERE newest_date < ? AND fetched_at >= ?",
            (bars_before, unused_before or ""),
        ).fetchone()[0]
    return {
        "series_deleted": series,
        "series_bars_deleted": bars,
        "old_bars_deleted": old_bars,
        "series_emptied": emptied,
    }


def prune_prices(
    conn: sqlite3.Connection, *, unused_before: str | None, bars_before: str | None
) -> None:
    """Delete what ``price_prune_effects`` counts. A deleted series is fetched whole again the
    next time it is asked for; trimmed bars are older than any analysis reads."""
    if unused_before is not None:
        conn.execute(
            "DELETE FROM price_bars WHERE (source, ticker, auto_adjust) IN"
            " (SELECT source, ticker, auto_adjust FROM price_fetches WHERE fetched_at < ?)",
            (unused_before,),
        )
        conn.execute("DELETE FROM price_fetches WHERE fetched_at < ?", (unused_before,))
    if bars_before is not None:
        conn.execute("DELETE FROM price_bars WHERE market_date < ?", (bars_before,))
        conn.execute("DELETE FROM price_fetches WHERE newest_date < ?", (bars_before,))


def price_cache_size(conn: sqlite3.Connection) -> dict[str, int]:
    """What `db info` shows: cached bars and the tickers they belong to."""
    bars = int(conn.execute("SELECT count(*) FROM price_bars").fetchone()[0])
    tickers = int(conn.execute("SELECT count(*) FROM price_fetches").fetchone()[0])
    return {"bars": bars, "tickers": tickers}
