"""A fake price source: deterministic bars per ticker, configurable to fail on chosen tickers."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stockscan.analysis.model import Bars
from stockscan.sources.demo import demo_bars

FRIDAY = np.datetime64("2026-11-27", "D")


@dataclass
class FakeSource:
    name: str = "csv"
    end: np.datetime64 = FRIDAY
    failures: dict[str, BaseException] = field(default_factory=dict)
    calls: list[str] = field(default_factory=list)

    def fetch(self, ticker: str) -> Bars:
        self.calls.append(ticker)
        if ticker in self.failures:
            raise self.failures[ticker]
        return demo_bars(ticker, self.end)
