"""``analyze``: validate, compute the indicators, score, plan, and pack the raw data."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from stockscan.analysis import indicators
from stockscan.analysis.indicators import FIRST_VALID, FloatArray
from stockscan.analysis.model import Analysis, Bars, TradePlan
from stockscan.analysis.plan import SWING_BARS, build_plan, month_end_close, tick_for
from stockscan.analysis.scoring import SCORING_VERSION, SLOPE_BARS, Scored, score
from stockscan.analysis.validation import check
from stockscan.errors import StockError

RAW_WINDOW = 20
RAW_SERIES = (
    "sma_20", "sma_50", "ema_20", "rsi_14", "macd_hist", "atr_14", "bb_upper", "bb_lower",
    "adx_14", "volume_ratio_20",
)  # fmt: skip
# Undefined at the last bar for a reason in the data, not a fault: no volume to compare with.
MAY_BE_UNDEFINED = frozenset({"volume_ratio_20"})


def analyze(bars: Bars, *, exchange: str | None = None) -> Analysis:
    """Analyse the last bar of ``bars``: indicators, score, verdict, trade plan and raw data.

    ``exchange`` sets the tick of the plan's prices (``stockscan.analysis.plan.tick_for``:
    ``"NSE"``, or None for the paise rounding); ``plan.exchange_of(ticker)`` gives it.

    Raises ``StockError``: ``bad_data`` or ``insufficient_history`` when the bars fail
    validation, ``compute_error`` when the maths fails on data that passed it. A bar still in
    progress (``bars.last_bar_complete`` False) is analysed like any other and the result says so.
    """
    checked = check(bars)
    try:
        return _analyze(checked, exchange)
    except (ArithmeticError, ValueError, IndexError) as error:
        raise StockError("compute_error", f"{type(error).__name__}: {error}") from error


def _analyze(bars: Bars, exchange: str | None) -> Analysis:
    n = len(bars)
    series = indicators.compute(bars)
    snapshot = indicators.snapshot(series)
    for name, value in snapshot.items():
        if value is None:
            if n > FIRST_VALID[name] and name not in MAY_BE_UNDEFINED:
                raise ValueError(f"{name} is undefined at the last bar")
        elif not math.isfinite(value):
            raise ValueError(f"{name} is {value} at the last bar")
    close = bars.close
    scored = score(close, series, last_bar_complete=bars.last_bar_complete)
    atr = snapshot["atr_14"]
    assert atr is not None  # defined from bar 14, and validation asks for more
    last = float(close[-1])
    plan, plan_detail = build_plan(
        scored.verdict,
        last,
        atr,
        swing_low=float(bars.low[-SWING_BARS:].min()),
        swing_high=float(bars.high[-SWING_BARS:].max()),
        tick=tick_for(exchange, last, month_end_close(bars.dates, close)),
    )
    return Analysis(
        analysis_date=bars.last_date,
        close=float(close[-1]),
        score=scored.score,
        verdict=scored.verdict,
        components=scored.components,
        indicators=snapshot,
        plan=plan,
        scoring_version=SCORING_VERSION,
        bars_used=n,
        last_bar_complete=bars.last_bar_complete,
        raw=_raw(bars, series, snapshot, scored, plan, plan_detail),
    )


def _six_digits(values: FloatArray) -> list[list[float | None]]:
    """``values`` (2-D) to six significant digits, as lists with NaN as None: plenty to read a
    chart, a third of the bytes of a full float. Vectorised, as ``f"{v:.6g}"`` per value would
    cost a tenth of the whole analysis."""
    defined = np.isfinite(values) & (values != 0.0)
    magnitude = np.floor(np.log10(np.abs(np.where(defined, values, 1.0))))
    scale = 10.0 ** (5.0 - magnitude)
    rounded = np.round(values * scale)
    # Divide by an exact power of ten (rounds like float("806.19")); for large values multiply
    # back by one instead of dividing by an inexact fraction.
    compact = np.where(magnitude <= 5.0, rounded / scale, rounded * 10.0 ** (magnitude - 5.0))
    rows: list[list[float]] = np.where(defined, compact, values).tolist()
    return [[None if v != v else v for v in row] for row in rows]  # v != v: NaN


def _raw(
    bars: Bars,
    series: dict[str, FloatArray],
    snapshot: dict[str, float | None],
    scored: Scored,
    plan: TradePlan,
    plan_detail: dict[str, Any],
) -> dict[str, Any]:
    """Everything needed to explain and recompute the score, in a few KB of JSON: the last bar,
    the indicator snapshot and sub-signals at full precision, and a short recent window."""
    sma_50 = series["sma_50"]
    recent = slice(len(bars) - RAW_WINDOW, None)
    columns = {name: getattr(bars, name)[recent] for name in ("open", "high", "low", "close")}
    columns.update((name, series[name][recent]) for name in RAW_SERIES)
    window: dict[str, Any] = {
        "dates": np.datetime_as_string(bars.dates[recent]).tolist(),
        **dict(zip(columns, _six_digits(np.stack(list(columns.values()))), strict=True)),
        "volume": bars.volume[recent].tolist(),
    }
    return {
        "scoring_version": SCORING_VERSION,
        "date": str(bars.dates[-1]),
        "bars": len(bars),
        "last_bar_complete": bars.last_bar_complete,
        "bar": {
            "open": float(bars.open[-1]),
            "high": float(bars.high[-1]),
            "low": float(bars.low[-1]),
            "close": float(bars.close[-1]),
            "volume": float(bars.volume[-1]),
            "previous_close": float(bars.close[-2]),
        },
        "indicators": snapshot,
        "inputs": {f"sma_50_{SLOPE_BARS}_bars_ago": float(sma_50[-1 - SLOPE_BARS])},
        "signals": scored.signals,
        "components": [
            {"name": c.name, "points": c.points, "max_points": c.max_points, "reason": c.reason}
            for c in scored.components
        ],
        "score": scored.score,
        "verdict": scored.verdict,
        "plan": {
            "entry": plan.entry,
            "stop": plan.stop,
            "target": plan.target,
            "reward_risk": plan.reward_risk,
            "risk_per_share": plan.risk_per_share,
            **plan_detail,
        },
        "window": window,
    }
