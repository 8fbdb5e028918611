"""The score, its components, the verdict bands and the raw data, on real and edge-case bars."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from stockscan.analysis import (
    INDICATOR_NAMES,
    SCORING_VERSION,
    Analysis,
    Bars,
    analyze,
    compute,
)
from stockscan.analysis.scoring import WEIGHTS, verdict_for

WalkFactory = Callable[..., Bars]
RAW_LIMIT = 8 * 1024


def _raw_bytes(analysis: Analysis) -> int:
    return len(json.dumps(analysis.raw, separators=(",", ":"), allow_nan=False).encode())


def _head(bars: Bars, n: int) -> Bars:
    columns = ("dates", "open", "high", "low", "close", "volume")
    return replace(bars, **{column: getattr(bars, column)[:n] for column in columns})


def _check_consistent(analysis: Analysis) -> None:
    assert 0.0 <= analysis.score <= 100.0
    assert analysis.score == round(analysis.score, 1)
    assert analysis.verdict == verdict_for(analysis.score)
    assert [c.name for c in analysis.components] == list(WEIGHTS)
    assert sum(c.max_points for c in analysis.components) == pytest.approx(100.0, abs=0.03)
    assert sum(c.points for c in analysis.components) == pytest.approx(analysis.score, abs=0.06)
    for component in analysis.components:
        assert 0.0 <= component.points <= component.max_points
        assert component.reason
    assert tuple(analysis.indicators) == INDICATOR_NAMES
    assert analysis.scoring_version == SCORING_VERSION
    assert _raw_bytes(analysis) <= RAW_LIMIT


@pytest.mark.parametrize(
    ("score", "verdict"),
    [
        (100.0, "STRONG_BUY"),
        (75.0, "STRONG_BUY"),
        (74.9, "BUY"),
        (60.0, "BUY"),
        (59.9, "HOLD"),
        (50.0, "HOLD"),
        (40.1, "HOLD"),
        (40.0, "SELL"),
        (25.1, "SELL"),
        (25.0, "STRONG_SELL"),
        (0.0, "STRONG_SELL"),
    ],
)
def test_verdict_bands(score: float, verdict: str) -> None:
    assert verdict_for(score) == verdict


def test_bands_are_symmetric_about_50() -> None:
    mirror = {"STRONG_BUY": "STRONG_SELL", "BUY": "SELL", "HOLD": "HOLD"}
    mirror |= {v: k for k, v in mirror.items()}
    for tenths in range(1001):
        score = tenths / 10
        assert verdict_for(round(100 - score, 1)) == mirror[verdict_for(score)]


def test_scoring_version() -> None:
    assert SCORING_VERSION == "2"
    assert sum(WEIGHTS.values()) == 100.0


def test_goog_last_bar(goog: Bars) -> None:
    analysis = analyze(goog)
    _check_consistent(analysis)
    assert analysis.analysis_date.isoformat() == "2013-03-01"
    assert analysis.close == 806.19
    assert analysis.bars_used == len(goog)
    assert analysis.last_bar_complete is True
    series = compute(goog)
    for name in INDICATOR_NAMES:
        assert analysis.indicators[name] == float(series[name][-1])
    assert all(isinstance(v, float) for v in analysis.indicators.values())
    assert {c.max_points for c in analysis.components} == set(WEIGHTS.values())


def test_same_input_same_output(goog: Bars) -> None:
    first, second = analyze(goog), analyze(goog)
    assert first == second
    assert json.dumps(first.raw, sort_keys=True) == json.dumps(second.raw, sort_keys=True)


def test_score_can_be_recomputed_from_the_raw_data(goog: Bars) -> None:
    analysis = analyze(goog)
    raw = json.loads(json.dumps(analysis.raw))
    total = 0.0
    for component in raw["components"]:
        signal = raw["signals"][component["name"]]
        total += WEIGHTS[component["name"]] * (1 + signal) / 2
    assert round(total, 1) == analysis.score == raw["score"]
    assert raw["verdict"] == analysis.verdict
    assert raw["indicators"] == analysis.indicators
    assert raw["plan"]["stop"] == analysis.plan.stop
    assert len(raw["window"]["close"]) == 20
    assert raw["window"]["close"][-1] == analysis.close


def test_raw_data_size_on_goog(goog: Bars) -> None:
    size = _raw_bytes(analyze(goog))
    assert 1_000 < size <= RAW_LIMIT
    print(f"raw data of GOOG's last bar: {size} bytes")


@pytest.mark.parametrize("n", [60, 150, 199])
def test_young_stock_is_scored_without_the_52_week_range(goog: Bars, n: int) -> None:
    analysis = analyze(_head(goog, n))
    _check_consistent(analysis)
    components = {c.name: c for c in analysis.components}
    assert components["range_52w"].points == components["range_52w"].max_points == 0.0
    assert "not scored" in components["range_52w"].reason
    assert "252 bars" in components["range_52w"].reason
    for name in ("trend", "momentum", "strength", "volatility", "volume"):
        assert components[name].max_points == pytest.approx(WEIGHTS[name] * 100 / 85, abs=0.01)
        assert "renormalised" in components[name].reason
    assert "SMA-200 not used" in components["trend"].reason
    assert analysis.indicators["sma_200"] is None
    assert analysis.indicators["high_52w"] is None and analysis.indicators["low_52w"] is None


def test_stock_between_200_and_252_bars(goog: Bars) -> None:
    analysis = analyze(_head(goog, 230))
    _check_consistent(analysis)
    assert analysis.indicators["sma_200"] is not None
    assert analysis.indicators["high_52w"] is None
    assert "SMA-200 not used" not in analysis.components[0].reason


def test_zero_volume_history(walk: WalkFactory) -> None:
    bars = walk(3, 300)
    analysis = analyze(replace(bars, volume=np.zeros(300)))
    _check_consistent(analysis)
    assert analysis.indicators["volume_ratio_20"] is None
    volume = {c.name: c for c in analysis.components}["volume"]
    assert volume.points == volume.max_points / 2
    assert "no volume" in volume.reason and "neutral" in volume.reason


def test_zero_volume_on_the_last_bar_is_missing_not_a_signal(walk: WalkFactory) -> None:
    """Yahoo sends volume 0 when it has none for a bar: neutral, and said so."""
    bars = walk(3, 300)
    volume = bars.volume.copy()
    volume[-1] = 0.0
    analysis = analyze(replace(bars, volume=volume))
    _check_consistent(analysis)
    part = {c.name: c for c in analysis.components}["volume"]
    assert part.points == part.max_points / 2
    assert part.reason == "no volume reported for the last bar: neutral"
    same = analyze(replace(bars, volume=np.where(np.arange(300) == 299, 1e-12, bars.volume)))
    assert same.score == analysis.score  # the score is what a negligible volume gives


def test_constant_price_is_neutral(from_close: Callable[..., Bars]) -> None:
    analysis = analyze(from_close(np.full(300, 12.34)))
    _check_consistent(analysis)
    assert analysis.score == 50.0
    assert analysis.verdict == "HOLD"
    assert analysis.plan.side == "none"
    assert analysis.indicators["rsi_14"] == 50.0
    assert analysis.indicators["adx_14"] == 0.0
    for component in analysis.components:
        assert component.points == component.max_points / 2, component


def test_steady_rise_and_fall(from_close: Callable[..., Bars]) -> None:
    rising = analyze(from_close(np.linspace(10.0, 60.0, 300)))
    falling = analyze(from_close(np.linspace(60.0, 10.0, 300)))
    _check_consistent(rising)
    _check_consistent(falling)
    assert rising.verdict == "STRONG_BUY" and rising.plan.side == "long"
    assert falling.verdict == "STRONG_SELL" and falling.plan.side == "short"


def test_partial_last_bar(walk: WalkFactory) -> None:
    complete = analyze(walk(11, 300))
    partial = analyze(walk(11, 300, last_bar_complete=False))
    assert partial.last_bar_complete is False and complete.last_bar_complete is True
    assert partial.raw["last_bar_complete"] is False
    assert partial.score == complete.score
    volume = {c.name: c for c in partial.components}["volume"]
    assert "still open" in volume.reason


def test_components_explain_themselves(goog: Bars) -> None:
    reasons = {c.name: c.reason for c in analyze(goog).components}
    assert "SMA-50" in reasons["trend"] and "SMA-200" in reasons["trend"]
    assert "RSI" in reasons["momentum"] and "MACD" in reasons["momentum"]
    assert "ADX" in reasons["strength"]
    assert "Bollinger" in reasons["volatility"]
    assert "average" in reasons["volume"]
    assert "52-week" in reasons["range_52w"]
