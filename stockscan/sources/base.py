"""What every price source shares: the ``PriceSource`` protocol and what one ``fetch`` returns
(``Fetched``: the bars and their ``Provenance``). A module of its own so that the sources import
it, not the package that builds them (``stockscan.sources.get_source``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple, Protocol

from stockscan import clock
from stockscan.analysis.model import Bars
from stockscan.vocab import SourceName

if TYPE_CHECKING:
    from stockscan.sources.cache import PriceCache


@dataclass(frozen=True)
class Provenance:
    """Where the bars of one fetch came from, stored with the result they produced."""

    fetched_at: str  # ISO-8601 UTC: when the bars were fetched (for cached bars: originally)
    source_version: str | None = None  # the library that fetched them, e.g. "yfinance 1.7.0"
    auto_adjust: bool | None = None  # yahoo only: split/dividend-adjusted OHLC
    from_cache: bool = False  # True when no request was made for these bars

    @classmethod
    def read_now(cls) -> Provenance:
        """Bars read just now from nothing with a version worth recording (demo, csv)."""
        return cls(fetched_at=clock.now_iso("seconds"))


class Fetched(NamedTuple):
    """What one ``fetch`` returns: the ticker's bars and where they came from."""

    bars: Bars
    provenance: Provenance


class PriceSource(Protocol):
    """A price source. ``fetch`` is required; a source that can fetch ahead of the job loop
    overrides ``prefetch`` and ``close`` (yahoo does, on a bounded pool of threads), and the
    others inherit them as no-ops by subclassing this protocol."""

    @property
    def name(self) -> SourceName:
        """What results from this source are labelled with (``analysis_source``)."""
        ...

    def fetch(self, ticker: str) -> Fetched:
        """Daily bars for ``ticker``, oldest first, with their provenance."""
        ...

    def prefetch(self, tickers: Sequence[str]) -> None:
        """Start fetching ``tickers`` ahead, in the order the loop will call ``fetch``."""
        return None

    def close(self) -> None:
        """Stop fetching ahead (whatever ends the loop); never blocks."""
        return None

    def use_cache(self, cache: PriceCache) -> None:
        """Keep bars in ``cache`` (the job's database) between runs, if this source keeps any
        (yahoo does); the others have nothing to keep. Called before the first ``fetch``."""
        return None
