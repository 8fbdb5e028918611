"""Price sources: where daily bars come from. The only package that talks to the outside world.

Each source turns one ticker into ``Bars`` or raises ``StockError`` (a per-stock failure that
the job records) or ``SourceUnavailable`` (the provider is down or throttling: the job stops
early and stays resumable). Nothing falls back from one source to another.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Protocol

from stockscan.analysis.model import Bars
from stockscan.errors import UsageError

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


def get_source(name: str, data_dir: Path | None = None) -> PriceSource:
    """The source called ``name``; ``UsageError`` for an unknown name or missing options."""
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

        return YahooSource()
    raise UsageError(f"unknown source {name!r}: expected one of {', '.join(SOURCE_NAMES)}")
