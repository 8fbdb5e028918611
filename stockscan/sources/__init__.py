"""Price sources: where daily bars come from. The only package that talks to the outside world.

Each source turns one ticker into ``Fetched`` (its ``Bars`` and their ``Provenance``) or raises
``StockError`` (a per-stock failure that the job records) or ``SourceUnavailable`` (the provider
is down or throttling: the job stops early and stays resumable). Nothing falls back from one
source to another.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from stockscan import vocab
from stockscan.errors import UsageError
from stockscan.sources.base import Fetched, PriceSource, Provenance

__all__ = ["Fetched", "PriceSource", "Provenance", "Tuning", "fetching_ahead", "get_source"]

if TYPE_CHECKING:
    from stockscan.sources.cache import PriceCache

SOURCE_NAMES = vocab.SOURCES


@dataclass(frozen=True)
class Tuning:
    """How hard the yahoo source may pull (``--max-rps``, ``--fetch-workers``): how a job
    fetches, not what it computes, so not part of its request key. None: the default."""

    max_rps: float | None = None
    workers: int | None = None

    def __post_init__(self) -> None:
        from stockscan.sources.yahoo import MAX_WORKERS

        if self.max_rps is not None and not self.max_rps > 0:
            raise UsageError(f"--max-rps {self.max_rps:g}: must be a positive number")
        if self.workers is not None and not 1 <= self.workers <= MAX_WORKERS:
            raise UsageError(f"--fetch-workers {self.workers}: must be from 1 to {MAX_WORKERS}")


def _rate_budget(tuning: Tuning) -> float:
    """``--max-rps``, else ``STOCKSCAN_YAHOO_MAX_RPS``, else the default."""
    from stockscan.sources.yahoo import DEFAULT_MAX_RPS

    if tuning.max_rps is not None:
        return tuning.max_rps
    text = os.environ.get("STOCKSCAN_YAHOO_MAX_RPS", "").strip()
    if not text:
        return DEFAULT_MAX_RPS
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise UsageError(f"STOCKSCAN_YAHOO_MAX_RPS={text!r}: must be a positive number")
    return value


def get_source(
    name: str,
    data_dir: Path | None = None,
    *,
    cache: PriceCache | None = None,
    keep_partial: bool = False,
    tuning: Tuning = Tuning(),
) -> PriceSource:
    """The source called ``name``; ``UsageError`` for an unknown name or missing options.

    ``cache`` (a ``PriceCache`` over the job's connection), ``keep_partial`` and ``tuning``
    are the yahoo source's: demo bars cost nothing to make, a CSV file is already local, and
    neither has a bar still moving.
    """
    if name != "yahoo":
        given = [
            flag
            for flag, value in (
                ("--keep-partial", keep_partial),
                ("--max-rps", tuning.max_rps is not None),
                ("--fetch-workers", tuning.workers is not None),
            )
            if value
        ]
        if given:
            raise UsageError(f"{', '.join(given)}: only for --source yahoo, not {name}")
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
        from stockscan.sources.yahoo import DEFAULT_WORKERS, YahooSource

        return YahooSource(
            cache=cache,
            keep_partial=keep_partial,
            max_requests_per_s=_rate_budget(tuning),
            workers=tuning.workers if tuning.workers is not None else DEFAULT_WORKERS,
        )
    raise UsageError(f"unknown source {name!r}: expected one of {', '.join(SOURCE_NAMES)}")


@contextmanager
def fetching_ahead(source: PriceSource, tickers: Sequence[str]) -> Iterator[None]:
    """Let ``source`` fetch ``tickers`` ahead of the job loop, if it can (yahoo does, on a
    bounded pool of threads), and stop it on the way out, however the loop ends."""
    source.prefetch(tickers)
    try:
        yield
    finally:
        source.close()
