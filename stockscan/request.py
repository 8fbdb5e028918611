"""What the user asked a job to do (``JobRequest``): its tickers, source and money, the plan's
settings (sides, position cap, shortable stocks, price bands), the parameters stored with the
job, and the key that makes two identical requests one job. Also what a job's settings make of
a stored plan (``stored_position``), for the commands that show old results.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stockscan.errors import UsageError
from stockscan.position import DEFAULT_MAX_POSITION_PCT, DEFAULT_SIDES

if TYPE_CHECKING:
    from stockscan.position import Band, Position, TradePlan
    from stockscan.sources import PriceSource, Tuning
    from stockscan.vocab import SourceName

DEFAULT_CAPITAL = 100_000.0
DEFAULT_RISK_PCT = 1.0


@dataclass(frozen=True)
class JobRequest:
    """What the user asked for. Two requests with the same key are the same job."""

    tickers: tuple[str, ...]
    source: SourceName
    capital: float = DEFAULT_CAPITAL
    risk_pct: float = DEFAULT_RISK_PCT
    data_dir: str | None = None
    # A scan keeps a result it already has for the same market date, source and scoring
    # version ("no new bars since …") instead of rewriting it; analyze always rewrites.
    skip_unchanged: bool = False
    # yahoo only: analyse today's still-moving bar (the result is marked partial) instead of
    # dropping it.
    keep_partial: bool = False
    # Which sides get a plan: "long" (a short verdict is "avoid / exit if held") or "both"
    # (a short where ``shortable`` lists the ticker).
    sides: str = DEFAULT_SIDES
    max_position_pct: float = DEFAULT_MAX_POSITION_PCT
    # sides "both": the job's tickers that can be shorted (from --shortable FILE).
    shortable: tuple[str, ...] = ()
    # The daily price band of the job's tickers found in --bands FILE (None: no file given).
    bands: tuple[tuple[str, Band], ...] | None = None

    def __post_init__(self) -> None:
        if not (self.capital > 0 and self.capital < 1e15):
            raise UsageError(f"--capital {self.capital:g}: must be a positive amount")
        if not (0 < self.risk_pct <= 100):
            raise UsageError(f"--risk-pct {self.risk_pct:g}: must be above 0 and at most 100")
        if not (0 < self.max_position_pct <= 100):
            raise UsageError(
                f"--max-position-pct {self.max_position_pct:g}: must be above 0 and at most 100"
            )
        if self.sides not in ("long", "both"):
            raise UsageError(f"--sides {self.sides!r}: expected long or both")

    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = {
            "capital": self.capital,
            "risk_pct": self.risk_pct,
            "data_dir": self.data_dir,
            "skip_unchanged": self.skip_unchanged,
            "sides": self.sides,
            "max_position_pct": self.max_position_pct,
        }
        if self.keep_partial:  # only when set: the keys of earlier jobs stay what they were
            params["keep_partial"] = True
        if self.sides == "both":
            params["shortable"] = sorted(self.shortable)
        if self.bands is not None:
            params["bands"] = dict(sorted(self.bands))
        return params

    @classmethod
    def from_params(
        cls, tickers: tuple[str, ...], source: SourceName, params: Mapping[str, Any]
    ) -> JobRequest:
        """The request a stored job was made from. A job from before sides and the position
        cap has the defaults."""
        bands = params.get("bands")
        return cls(
            tickers=tickers,
            source=source,
            capital=params["capital"],
            risk_pct=params["risk_pct"],
            data_dir=params.get("data_dir"),
            skip_unchanged=params.get("skip_unchanged", False),
            keep_partial=params.get("keep_partial", False),
            sides=params.get("sides", DEFAULT_SIDES),
            max_position_pct=params.get("max_position_pct", DEFAULT_MAX_POSITION_PCT),
            shortable=tuple(params.get("shortable", ())),
            bands=None if bands is None else tuple(bands.items()),
        )

    def position(self, ticker: str, plan: TradePlan) -> Position:
        """What this job makes of ``ticker``'s plan: the action, quantity and notes."""
        from stockscan.position import position

        return position(
            plan,
            capital=self.capital,
            risk_pct=self.risk_pct,
            max_position_pct=self.max_position_pct,
            sides="both" if self.sides == "both" else "long",
            shortable=ticker in self.shortable,
            band="unknown" if self.bands is None else dict(self.bands).get(ticker, "unknown"),
        )

    def source_for(self, conn: sqlite3.Connection, tuning: Tuning | None = None) -> PriceSource:
        """The request's price source, with the price cache in ``conn``'s database."""
        from stockscan.sources import Tuning, get_source
        from stockscan.sources.cache import PriceCache

        return get_source(
            self.source,
            Path(self.data_dir) if self.data_dir else None,
            cache=PriceCache(conn),
            keep_partial=self.keep_partial,
            tuning=tuning or Tuning(),
        )

    def key(self, run_date: str, scoring_version: str) -> str:
        """sha256 of the canonical request: the tickers as a set, the source and its options,
        the money parameters, the scoring model and the run date (the newest weekday, UTC).

        The run date makes tomorrow's identical cron run a new job instead of a resumption of
        today's; an interrupted job of an earlier day stays resumable by id.
        """
        canonical = {
            "tickers": sorted(self.tickers),
            "source": self.source,
            **self.params(),
            "scoring_version": scoring_version,
            "run_date": run_date,
        }
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
        import hashlib  # here, not at the top: read commands import this module and never hash

        return hashlib.sha256(text.encode()).hexdigest()


def stored_position(
    ticker: str, row: Mapping[str, Any], params: Mapping[str, Any]
) -> Position | None:
    """What the job with ``params`` made of the stored result ``row`` of ``ticker``; None for a
    result of a scoring version before these rules (its plan followed others), a job from
    before them, or a row without a plan."""
    from stockscan.position import Levels, rules_apply

    if not rules_apply(row.get("scoring_version")) or row.get("side") is None:
        return None
    if params.get("capital") is None or "sides" not in params:
        return None
    request = JobRequest.from_params((ticker,), "demo", params)
    try:
        return request.position(ticker, Levels.of_row(row))
    except ValueError:  # a stored row the rules cannot size (not one this version wrote)
        return None
