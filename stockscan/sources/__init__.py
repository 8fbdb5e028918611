"""Price sources: where daily bars come from. The only package that talks to the outside world.

Each source turns one ticker into ``Bars`` or raises ``StockError`` (a per-stock failure that
the job records) or ``SourceUnavailable`` (the provider is down or throttling: the job stops
early and stays resumable). Nothing falls back from one source to another.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from stockscan.analysis.model import Bars
from stockscan.errors import UsageError

if TYPE_CHECKING:
    from stockscan.sources.cache import PriceCache

SourceName = Literal["yahoo", "demo", "csv"]
SOURCE_NAMES: tuple[SourceName, ...] = ("yahoo", "demo", "csv")


class PriceSource(Protocol):
    @property
    def name(self) -> SourceName:
        """What results from this source are labelled with (``analysis_source``)."""
        ...

    def fetch(self, ticker: str) -> Bars:
        """Daily bars for ``ticker``, oldest first."""
        ...


@dataclass(frozen=True)
class Provenance:
    """Where the bars of one fetch came from, stored with the result they produced."""

    fetched_at: str  # ISO-8601 UTC: when the bars were fetched (for cached bars: originally)
    source_version: str | None = None  # the library that fetched them, e.g. "yfinance 1.7.0"
    auto_adjust: bool | None = None  # yahoo only: split/dividend-adjusted OHLC
    from_cache: bool = False  # True when no request was made for these bars


def provenance_of(source: PriceSource, ticker: str) -> Provenance:
    """The provenance of ``source``'s last fetch of ``ticker``. A source that keeps none (demo,
    csv, test fakes) read its bars just now, from nothing with a version worth recording."""
    describe = getattr(source, "provenance", None)
    if callable(describe):
        found = describe(ticker)
        if isinstance(found, Provenance):
            return found
    return Provenance(fetched_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))


def _rate_budget() -> float | None:
    """``STOCKSCAN_YAHOO_MAX_RPS``: the most Yahoo requests per second (unset: no limit)."""
    text = os.environ.get("STOCKSCAN_YAHOO_MAX_RPS", "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise UsageError(f"STOCKSCAN_YAHOO_MAX_RPS={text!r}: must be a positive number")
    return value


def get_source(
    name: str, data_dir: Path | None = None, *, cache: PriceCache | None = None
) -> PriceSource:
    """The source called ``name``; ``UsageError`` for an unknown name or missing options.

    ``cache`` (a ``PriceCache`` over the job's connection) is used by the yahoo source only:
    demo bars cost nothing to make and a CSV file is already local.
    """
    if name == "demo":
        from stockscan.sources.demo import DemoSource

        return DemoSource()
    if name == "csv":
        from stockscan.sources.csvfiles import CsvSource

        if data_dir is None:
            raise UsageError("--source csv needs --data-dir DIR (files named DIR/<TICKER>.csv)")
        if not data_dir.is_dir():
            raise UsageError(f"--data-dir {data_dir}: not a directory")
        return CsvSource(data_dir)
    if name == "yahoo":
        from stockscan.sources.yahoo import YahooSource

        return YahooSource(cache=cache, max_requests_per_s=_rate_budget())
    raise UsageError(f"unknown source {name!r}: expected one of {', '.join(SOURCE_NAMES)}")
