"""The score: six components, each a signal in [-1, +1] turned into points, and the verdict bands.

A component's points are ``max_points * (1 + signal) / 2``: +1 earns all of them, -1 none, and 0
(no evidence either way) half. So 50 is neutral, above is bullish, below bearish, and the bands
are symmetric about 50. ``docs/scoring.md`` is the reference; change ``SCORING_VERSION`` with any
change here that can move a score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from stockscan.analysis.indicators import SMA_PERIODS, YEAR_BARS, FloatArray
from stockscan.analysis.model import Component, Verdict

# 2: the plan's prices on the exchange's tick (NSE's price-linked tick for .NS tickers), the
# target rounded toward the entry. Scores and verdicts are those of 1.
SCORING_VERSION = "2"

WEIGHTS: dict[str, float] = {
    "trend": 30.0,
    "momentum": 25.0,
    "strength": 10.0,
    "volatility": 10.0,
    "volume": 10.0,
    "range_52w": 15.0,
}

# Verdict bands on the rounded score, symmetric about 50.
STRONG_BUY_MIN = 75.0
BUY_MIN = 60.0
SELL_MAX = 40.0
STRONG_SELL_MAX = 25.0

# Distances are measured in ATRs, so that one scale fits a quiet utility and a volatile growth
# stock. These are the distances that earn a full signal (+1 or -1); smaller ones earn in
# proportion. They sit near the 85th-90th percentile of each measure on GOOG 2004-2013.
FULL_CLOSE_VS_EMA20 = 2.5
FULL_CLOSE_VS_SMA50 = 5.0
FULL_SMA50_SLOPE = 2.0
SLOPE_BARS = 10
FULL_CLOSE_VS_SMA200 = 10.0
FULL_SMA50_VS_SMA200 = 8.0
FULL_MACD = 1.5
FULL_HISTOGRAM = 0.4
FULL_ROC = 6.0  # ROC-20 in units of ATR as a percentage of the close
ADX_NO_TREND = 15.0
ADX_FULL = 40.0
FULL_VOLUME_EXCESS = 1.0  # volume 2x its average: full confirmation
# Band width below this fraction of the price is a flat series, not a band.
FLAT_BAND = 1e-9


@dataclass(frozen=True)
class Scored:
    """The score and what it was made of; ``signals`` are the sub-signals, for the raw data."""

    score: float
    verdict: Verdict
    components: tuple[Component, ...]
    signals: dict[str, float]


@dataclass(frozen=True)
class _Part:
    signal: float | None  # None: not computable with this history
    reason: str
    signals: dict[str, float]


def verdict_for(score: float) -> Verdict:
    """The verdict band of a (rounded) score."""
    if score >= STRONG_BUY_MIN:
        return "STRONG_BUY"
    if score >= BUY_MIN:
        return "BUY"
    if score <= STRONG_SELL_MAX:
        return "STRONG_SELL"
    if score <= SELL_MAX:
        return "SELL"
    return "HOLD"


def _clip(value: float, low: float = -1.0, high: float = 1.0) -> float:
    if math.isnan(value):
        raise ValueError("a score signal is NaN")
    return max(low, min(high, value))


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def fmt_price(value: float) -> str:
    """Cents from 1 up, four significant digits below (sub-dollar stocks trade in 0.0001)."""
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.4g}"


def _distance(difference: float, reference: float, atr: float, what: str) -> str:
    side = "above" if difference >= 0 else "below"
    return f"{abs(difference) / atr:.1f} ATR ({abs(difference) / reference:.1%}) {side} {what}"


def _at(series: dict[str, FloatArray], name: str, back: int = 0) -> float:
    return float(series[name][-1 - back])


def _trend(close: float, series: dict[str, FloatArray], bars: int) -> _Part:
    atr = _at(series, "atr_14")
    if atr <= 0.0:  # only a price that never moved has an ATR of 0
        return _Part(0.0, "the price has never moved (ATR 0): neutral", {})
    ema_20 = _at(series, "ema_20")
    sma_50 = _at(series, "sma_50")
    sma_50_before = _at(series, "sma_50", SLOPE_BARS)
    slope = sma_50 - sma_50_before
    signals = {
        "trend.close_vs_ema20": _clip((close - ema_20) / atr / FULL_CLOSE_VS_EMA20),
        "trend.close_vs_sma50": _clip((close - sma_50) / atr / FULL_CLOSE_VS_SMA50),
        "trend.sma50_slope": _clip(slope / atr / FULL_SMA50_SLOPE),
    }
    direction = "rising" if slope > 0.05 * atr else "falling" if slope < -0.05 * atr else "flat"
    reason = (
        f"close {_distance(close - ema_20, ema_20, atr, 'EMA-20')}, "
        f"{_distance(close - sma_50, sma_50, atr, f'a {direction} SMA-50')} "
        f"({slope / atr:+.1f} ATR over {SLOPE_BARS} bars)"
    )
    long_period = SMA_PERIODS[-1]
    if bars >= long_period:
        sma_200 = _at(series, "sma_200")
        signals["trend.close_vs_sma200"] = _clip((close - sma_200) / atr / FULL_CLOSE_VS_SMA200)
        signals["trend.sma50_vs_sma200"] = _clip((sma_50 - sma_200) / atr / FULL_SMA50_VS_SMA200)
        reason += (
            f", {_distance(close - sma_200, sma_200, atr, 'SMA-200')}; "
            f"SMA-50 {_distance(sma_50 - sma_200, sma_200, atr, 'SMA-200')}"
        )
    else:
        reason += f"; SMA-200 not used (needs {long_period} bars, have {bars})"
    return _Part(_mean(list(signals.values())), reason, signals)


def _rsi_signal(rsi: float) -> float:
    """+1 at RSI 70, -1 at 30, linear between; beyond, overbought/oversold fades to 0 at 90/10."""
    if rsi > 70.0:
        return max(0.0, 1.0 - (rsi - 70.0) / 20.0)
    if rsi < 30.0:
        return min(0.0, -1.0 + (30.0 - rsi) / 20.0)
    return (rsi - 50.0) / 20.0


def _rsi_label(rsi: float) -> str:
    if rsi > 70.0:
        return "overbought: fading toward neutral"
    if rsi < 30.0:
        return "oversold: fading toward neutral"
    return "bullish" if rsi > 50.0 else "bearish" if rsi < 50.0 else "neutral"


def _momentum(close: float, series: dict[str, FloatArray]) -> _Part:
    rsi = _at(series, "rsi_14")
    line, signal, histogram = (_at(series, n) for n in ("macd", "macd_signal", "macd_hist"))
    atr = _at(series, "atr_14")
    roc = _at(series, "roc_20")
    signals = {"momentum.rsi": _rsi_signal(rsi)}
    position = "above" if histogram > 0 else "below" if histogram < 0 else "at"
    reason = f"RSI {rsi:.1f} ({_rsi_label(rsi)}); MACD {fmt_price(line)} {position} signal "
    if atr > 0.0:
        atr_pct = 100.0 * atr / close
        signals["momentum.macd"] = 0.5 * _clip(line / atr / FULL_MACD) + 0.5 * _clip(
            histogram / atr / FULL_HISTOGRAM
        )
        signals["momentum.roc"] = _clip(roc / atr_pct / FULL_ROC)
        reason += (
            f"{fmt_price(signal)} (MACD {line / atr:+.2f} ATR, histogram {histogram / atr:+.2f} "
            f"ATR); ROC-20 {roc:+.1f}% ({roc / atr_pct:+.1f} ATR)"
        )
    else:  # a price that never moved: MACD and ROC are 0 as well
        signals["momentum.macd"] = signals["momentum.roc"] = 0.0
        reason += f"{fmt_price(signal)}; ROC-20 {roc:+.1f}%; no range (ATR 0)"
    return _Part(_mean(list(signals.values())), reason, signals)


def _strength(series: dict[str, FloatArray], trend_signal: float) -> _Part:
    adx = _at(series, "adx_14")
    confidence = _clip((adx - ADX_NO_TREND) / (ADX_FULL - ADX_NO_TREND), 0.0, 1.0)
    direction = _clip(2.0 * trend_signal)
    signals = {"strength.confidence": confidence, "strength.direction": direction}
    label = (
        "no trend"
        if adx < ADX_NO_TREND
        else "weak trend"
        if adx < 25.0
        else "trending"
        if adx < ADX_FULL
        else "strong trend"
    )
    if confidence == 0.0:
        reason = f"ADX {adx:.1f} ({label}, below {ADX_NO_TREND:g}): nothing to confirm, neutral"
    elif direction == 0.0:
        reason = f"ADX {adx:.1f} ({label}) but the trend has no direction: neutral"
    else:
        which = "uptrend" if direction > 0 else "downtrend"
        reason = (
            f"ADX {adx:.1f} ({label}, {confidence:.0%} of full strength) behind the {which} "
            f"(trend signal {trend_signal:+.2f})"
        )
    return _Part(direction * confidence, reason, signals)


def _band_signal(position: float) -> float:
    """+1 at the upper band, -1 at the lower, linear between; outside, the stretch fades the
    signal to 0 half a band-width beyond."""
    if position > 1.0:
        return max(0.0, 1.0 - 2.0 * (position - 1.0))
    if position < 0.0:
        return min(0.0, -1.0 - 2.0 * position)
    return 2.0 * position - 1.0


def _volatility(close: float, series: dict[str, FloatArray]) -> _Part:
    upper, lower = _at(series, "bb_upper"), _at(series, "bb_lower")
    width = upper - lower
    if width <= FLAT_BAND * close:
        return _Part(0.0, "Bollinger bands have no width (flat price): neutral", {})
    position = (close - lower) / width
    signals = {"volatility.band_position": _band_signal(position)}
    reason = (
        f"close at {position:.0%} of the Bollinger band ({fmt_price(lower)} to "
        f"{fmt_price(upper)}, width {width / close:.1%} of price)"
    )
    if position > 1.0:
        reason += ": above the upper band, stretched, fading toward neutral"
    elif position < 0.0:
        reason += ": below the lower band, stretched, fading toward neutral"
    return _Part(signals["volatility.band_position"], reason, signals)


def _volume(close: FloatArray, series: dict[str, FloatArray], last_bar_complete: bool) -> _Part:
    ratio = _at(series, "volume_ratio_20")
    change = float(close[-1] / close[-2] - 1.0)
    partial = "" if last_bar_complete else "; the last bar is still open, so its volume is partial"
    if math.isnan(ratio):
        return _Part(
            0.0, f"no volume baseline (zero volume over the previous 20 bars): neutral{partial}", {}
        )
    day = "an up" if change > 0 else "a down" if change < 0 else "an unchanged"
    direction = 1.0 if change > 0 else -1.0 if change < 0 else 0.0
    excess = _clip((ratio - 1.0) / FULL_VOLUME_EXCESS, 0.0, 1.0)
    signals = {"volume.excess": excess, "volume.direction": direction}
    if ratio == 0.0:
        # Yahoo reports 0 (or nothing) when it has no volume for a bar: missing, not a signal
        # of no interest. Neutral either way; the reason says which.
        return _Part(0.0, f"no volume reported for the last bar: neutral{partial}", signals)
    reason = f"volume {ratio:.2f}x its previous 20-bar average on {day} day ({change:+.1%})"
    if excess == 0.0:
        reason += ": not above average, no confirmation"
    elif direction == 0.0:
        reason += ": no direction to confirm"
    else:
        reason += f": {'buying' if direction > 0 else 'selling'} pressure"
    return _Part(direction * excess, reason + partial, signals)


def _range_52w(close: float, series: dict[str, FloatArray], bars: int) -> _Part:
    if bars < YEAR_BARS:
        return _Part(None, f"not scored: a 52-week range needs {YEAR_BARS} bars, have {bars}", {})
    high, low = _at(series, "high_52w"), _at(series, "low_52w")
    if high <= low:
        return _Part(0.0, "the 52-week range is a single price: neutral", {})
    position = _clip((close - low) / (high - low), 0.0, 1.0)
    signals = {"range_52w.position": 2.0 * position - 1.0}
    reason = (
        f"close at {position:.0%} of the 52-week range ({fmt_price(low)} to {fmt_price(high)}), "
        f"{(high - close) / high:.1%} below the high"
    )
    return _Part(signals["range_52w.position"], reason, signals)


def score(
    close: FloatArray, series: dict[str, FloatArray], *, last_bar_complete: bool = True
) -> Scored:
    """Score the last bar. ``close`` is the full close series, ``series`` the indicators of
    ``stockscan.analysis.indicators.compute``; at least ``MIN_BARS`` bars are assumed.

    Components that cannot be computed with a short history are kept with 0 of 0 points, and the
    others' maxima are scaled up so that the maxima still add up to 100.
    """
    bars = int(close.shape[0])
    last = float(close[-1])
    trend = _trend(last, series, bars)
    assert trend.signal is not None
    parts = {
        "trend": trend,
        "momentum": _momentum(last, series),
        "strength": _strength(series, trend.signal),
        "volatility": _volatility(last, series),
        "volume": _volume(close, series, last_bar_complete),
        "range_52w": _range_52w(last, series, bars),
    }
    available = sum(WEIGHTS[name] for name, part in parts.items() if part.signal is not None)
    scale = 100.0 / available
    dropped = [name for name, part in parts.items() if part.signal is None]
    components: list[Component] = []
    signals: dict[str, float] = {}
    total = 0.0
    for name, part in parts.items():
        signals.update(part.signals)
        if part.signal is None:
            components.append(Component(name, 0.0, 0.0, part.reason))
            continue
        signal = _clip(part.signal)
        signals[name] = signal
        max_points = WEIGHTS[name] * scale
        points = max_points * (1.0 + signal) / 2.0
        total += points
        reason = part.reason
        if dropped:
            reason += (
                f" [max {WEIGHTS[name]:g} renormalised to {max_points:.2f}: "
                f"{', '.join(dropped)} not scored]"
            )
        components.append(Component(name, round(points, 2), round(max_points, 2), reason))
    if not math.isfinite(total):
        raise ValueError(f"score is not finite: {total!r}")
    rounded = round(min(100.0, max(0.0, total)), 1)
    return Scored(rounded, verdict_for(rounded), tuple(components), signals)
