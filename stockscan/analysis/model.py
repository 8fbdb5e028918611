"""The data the analysis engine takes and gives. Plain dataclasses over numpy; no I/O.

This module is the contract between the engine (``stockscan.analysis``), the price sources
(``stockscan.sources``) and the job loop (``stockscan.jobs``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from stockscan.vocab import VERDICTS as VERDICTS  # re-exported: stockscan.analysis.VERDICTS
from stockscan.vocab import Side, Verdict

if TYPE_CHECKING:
    import pandas as pd


INDICATOR_NAMES: tuple[str, ...] = (
    "sma_20", "sma_50", "sma_200", "ema_20", "rsi_14", "macd", "macd_signal", "macd_hist",
    "atr_14", "bb_upper", "bb_middle", "bb_lower", "adx_14", "roc_20", "volume_ratio_20",
    "high_52w", "low_52w",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class Bars:
    """Daily OHLCV bars of one ticker, oldest first, one per market date.

    ``dates`` is ``datetime64[D]`` (the exchange's market date, no time zone); the price and
    volume arrays are float64 of the same length. Sources build this at their boundary; the
    engine validates it (``stockscan.analysis.validate``) before computing anything.
    """

    dates: np.ndarray
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    # False when the newest bar may still be moving (market open); the result is then 'partial'.
    last_bar_complete: bool = True

    def __len__(self) -> int:
        return int(self.dates.shape[0])

    @property
    def last_date(self) -> dt.date:
        return dt.date.fromisoformat(str(self.dates[-1]))

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, last_bar_complete: bool = True) -> Bars:
        """Build from a frame indexed by date (or with a ``Date`` column), columns
        Open/High/Low/Close/Volume in any case. Time zones are dropped: the date is the local
        market date of each bar."""
        import pandas as pd

        columns = {str(c).strip().lower(): c for c in frame.columns}
        if "date" in columns:
            index = pd.DatetimeIndex(pd.to_datetime(frame[columns["date"]]))
        else:
            index = pd.DatetimeIndex(frame.index)
        if index.tz is not None:
            index = index.tz_localize(None)
        missing = [c for c in ("open", "high", "low", "close", "volume") if c not in columns]
        if missing:
            raise ValueError(f"missing columns: {', '.join(missing)}")

        def col(name: str) -> np.ndarray:
            return np.asarray(frame[columns[name]], dtype="float64")

        return cls(
            dates=index.normalize().values.astype("datetime64[D]"),
            open=col("open"),
            high=col("high"),
            low=col("low"),
            close=col("close"),
            volume=col("volume"),
            last_bar_complete=last_bar_complete,
        )


@dataclass(frozen=True)
class Component:
    """One part of the score: the points it earned out of its maximum, and why."""

    name: str
    points: float
    max_points: float
    reason: str


@dataclass(frozen=True)
class TradePlan:
    """What the verdict implies. ``side == "none"`` has no entry, stop or target.

    Quantity is not here: it depends on a person's capital, so it belongs to the job
    (``position_size``), not to the shared result.
    """

    side: Side
    entry: float | None
    stop: float | None
    target: float | None
    reward_risk: float | None
    risk_per_share: float | None


@dataclass(frozen=True)
class Analysis:
    """Everything the engine says about one ticker at its last bar."""

    analysis_date: dt.date
    close: float
    score: float
    verdict: Verdict
    components: tuple[Component, ...]
    indicators: dict[str, float | None]
    plan: TradePlan
    scoring_version: str
    bars_used: int
    last_bar_complete: bool = True
    # Compact, JSON-serialisable detail for the raw-data table (<= 8 KB as stored).
    raw: dict[str, Any] = field(default_factory=dict)
