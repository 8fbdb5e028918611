"""The bars behind one result, from that result's own source, cut at its market date.

A chart must show the prices the verdict was computed from, never another source's: yahoo bars
come from the price cache only (a chart never fetches), demo bars are regenerated (they are a
fixed function of ticker and date), csv bars are re-read from the job's data directory. When
the bars cannot be had, or no longer match the result (its close differs: the file changed,
or the cache was re-adjusted after a split), ``ChartUnavailable`` says why.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stockscan.analysis.indicators import FloatArray, sma
from stockscan.analysis.model import Bars
from stockscan.errors import StockError, UsageError

SMA_FAST, SMA_SLOW = 20, 50
# The close recomputed from the bars must equal the stored one this closely: a float
# round-trip is far below it, any re-adjustment or edited price far above.
CLOSE_TOLERANCE = 1e-6


class ChartUnavailable(UsageError):
    """No chart can be drawn for a result; the message says why."""


@dataclass(frozen=True)
class ChartData:
    """What a chart of one result draws: its last bars, the moving averages over them, and the
    result's verdict and trade plan."""

    ticker: str
    analysis_date: str
    source: str
    bars: Bars
    sma_fast: FloatArray
    sma_slow: FloatArray
    score: float
    verdict: str
    side: str | None
    entry: float | None
    stop: float | None
    target: float | None

    @property
    def title(self) -> str:
        demo = " (demo data)" if self.source == "demo" else ""
        return f"{self.ticker} {self.analysis_date} · {self.verdict} · score {self.score:.0f}{demo}"

    def levels(self) -> list[tuple[str, float]]:
        """The trade plan's price levels that exist: entry, stop, target."""
        named = (("entry", self.entry), ("stop", self.stop), ("target", self.target))
        return [(name, float(value)) for name, value in named if value is not None]


def data_dir_of(job_params: Mapping[str, Any] | None) -> str | None:
    """The ``data_dir`` a csv job read its files from, from its params (as the store decodes
    them; None when the job is gone)."""
    value = None if job_params is None else job_params.get("data_dir")
    return str(value) if value else None


def source_bars(conn: sqlite3.Connection, row: Mapping[str, Any], *, data_dir: str | None) -> Bars:
    """Every bar of the result's own source for its ticker, as that source has them now."""
    ticker, source = row["ticker"], row["analysis_source"]
    if row["scoring_version"] == "legacy" or row["close"] is None:
        raise ChartUnavailable(
            f"{ticker} {row['analysis_date']}: imported from the old system, which kept no"
            " price bars"
        )
    if source == "demo":
        from stockscan.sources.demo import demo_bars

        try:
            return demo_bars(ticker, np.datetime64(row["analysis_date"], "D"))
        except ValueError as exc:
            raise ChartUnavailable(f"{ticker}: no demo bars: {exc}") from None
    if source == "yahoo":
        from stockscan.sources.cache import PriceCache

        if row["auto_adjust"] is None:
            raise ChartUnavailable(
                f"{ticker} {row['analysis_date']}: this Yahoo result predates the price cache;"
                " no bars were kept (a chart never fetches)"
            )
        cached = PriceCache(conn).bars("yahoo", ticker, bool(row["auto_adjust"]))
        if cached is None:
            raise ChartUnavailable(
                f"{ticker}: no cached Yahoo bars (a chart never fetches; a scan fills the cache)"
            )
        return cached
    if source == "csv":
        from stockscan.sources.csvfiles import CsvSource

        if data_dir is None:
            raise ChartUnavailable(
                f"{ticker}: the CSV directory of this result is unknown (its job was pruned)"
            )
        try:
            return CsvSource(Path(data_dir)).read(ticker)
        except StockError as exc:
            raise ChartUnavailable(f"{ticker}: cannot re-read its CSV: {exc.message}") from None
    raise ChartUnavailable(
        f"{ticker} {row['analysis_date']}: source {source!r} keeps no price bars"
    )


def _cut(bars: Bars, keep: slice | np.ndarray) -> Bars:
    return Bars(
        bars.dates[keep], bars.open[keep], bars.high[keep], bars.low[keep], bars.close[keep],
        bars.volume[keep],
    )  # fmt: skip


def chart_data(
    conn: sqlite3.Connection, row: Mapping[str, Any], *, count: int, data_dir: str | None
) -> ChartData:
    """The last ``count`` bars up to the result's market date, with SMA-20/50, checked against
    the result's own close. ``row`` is a result row (``find_result`` or ``report_stocks``)."""
    ticker, date = row["ticker"], row["analysis_date"]
    bars = source_bars(conn, row, data_dir=data_dir)
    bars = _cut(bars, bars.dates <= np.datetime64(date, "D"))
    if len(bars) == 0 or str(bars.dates[-1]) != date:
        newest = str(bars.dates[-1]) if len(bars) else "none"
        raise ChartUnavailable(
            f"{ticker}: the {row['analysis_source']} bars lack the result's market date {date}"
            f" (newest on or before it: {newest}; a bar still moving when analysed is not kept)"
        )
    close = row["close"]
    if not np.isclose(bars.close[-1], close, rtol=CLOSE_TOLERANCE, atol=0):
        raise ChartUnavailable(
            f"{ticker}: the {row['analysis_source']} bars changed since the analysis (close on"
            f" {date} is now {bars.close[-1]:.2f}, was {close:.2f})"
        )
    # The averages over every bar, then cut: the first bars shown have their SMA-50 too.
    fast, slow = sma(bars.close, SMA_FAST), sma(bars.close, SMA_SLOW)
    shown = slice(max(0, len(bars) - count), len(bars))
    return ChartData(
        ticker=ticker,
        analysis_date=date,
        source=row["analysis_source"],
        bars=_cut(bars, shown),
        sma_fast=fast[shown],
        sma_slow=slow[shown],
        score=float(row["score"]),
        verdict=row["verdict"],
        side=row["side"],
        entry=row["entry"],
        stop=row["stop"],
        target=row["target"],
    )
