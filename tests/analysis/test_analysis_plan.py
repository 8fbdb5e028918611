"""Trade plans and position sizes, worked by hand, and their invariants under rounding."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockscan.analysis import TradePlan, position_size
from stockscan.analysis.model import VERDICTS
from stockscan.analysis.plan import NO_PLAN, SIDES, build_plan, price_decimals


def _plan(verdict: str, close: float, atr: float, low: float, high: float) -> TradePlan:
    return build_plan(verdict, close, atr, swing_low=low, swing_high=high)[0]  # type: ignore[arg-type]


def _rule(verdict: str, close: float, atr: float, low: float, high: float) -> str:
    return str(build_plan(verdict, close, atr, swing_low=low, swing_high=high)[1]["rule"])  # type: ignore[arg-type]


def test_sides_follow_the_verdict() -> None:
    assert SIDES == {
        "STRONG_BUY": "long",
        "BUY": "long",
        "HOLD": "none",
        "SELL": "short",
        "STRONG_SELL": "short",
    }
    assert _plan("HOLD", 100.0, 2.0, 98.0, 102.0) == NO_PLAN


# entry 100, ATR 2: the ATR stop is 3.00 away, the cap min(3 ATR, 25%) = 6.00, the floor 0.50.
@pytest.mark.parametrize(
    ("swing_low", "atr", "stop", "target", "rule"),
    [
        # structure 100 - (98 - 0.5) = 2.5 < 3: the ATR stop, 1.5 x 2 = 3 below
        (98.0, 2.0, 97.00, 106.00, "atr"),
        # structure 100 - (95 - 0.5) = 5.5 > 3: the structure stop at 94.50
        (95.0, 2.0, 94.50, 111.00, "structure"),
        # structure 10.5 > cap 6: the cap, 3 ATR below
        (90.0, 2.0, 94.00, 112.00, "cap"),
        # ATR 0.1: ATR stop 0.15, structure 0.035, cap 0.3, floor 0.5% of 100 = 0.50
        (99.99, 0.1, 99.50, 101.00, "floor"),
        # ATR 40: 1.5 ATR = 60 but the cap is 25% of the entry
        (95.0, 40.0, 75.00, 150.00, "cap"),
    ],
)
def test_long_plans_by_hand(
    swing_low: float, atr: float, stop: float, target: float, rule: str
) -> None:
    plan = _plan("BUY", 100.0, atr, swing_low, 101.0)
    assert plan == TradePlan("long", 100.0, stop, target, 2.0, round(100.0 - stop, 2))
    assert _rule("STRONG_BUY", 100.0, atr, swing_low, 101.0) == rule


def test_short_plan_by_hand() -> None:
    # structure (103 + 0.5) - 100 = 3.5 > ATR stop 3 → stop 103.50, risk 3.50, target 93.00
    plan = _plan("SELL", 100.0, 2.0, 97.0, 103.0)
    assert plan == TradePlan("short", 100.0, 103.5, 93.0, 2.0, 3.5)
    # ATR stop wins: 100 + 3 = 103.00, target 94.00
    plan = _plan("STRONG_SELL", 100.0, 2.0, 97.0, 101.0)
    assert plan == TradePlan("short", 100.0, 103.0, 94.0, 2.0, 3.0)


def test_rounding_goes_away_from_the_entry() -> None:
    # entry 806.19, ATR 12.2276: ATR stop 18.34; structure 806.19 - (784.40 - 3.0569) = 24.8469
    plan = _plan("BUY", 806.19, 12.22759325990152, 784.4, 810.0)
    assert plan.stop == 781.34  # 781.3431 rounded down, away from the entry
    assert plan.risk_per_share == 24.85
    assert plan.target == 855.89  # 806.19 + 2 x 24.85
    # Short: structure 807.14 + 3.0569 - 806.19 = 4.0069 < ATR stop 18.3414, so the stop is
    # 824.5314, rounded *up* to 824.54 (the nearest cent, 824.53, would be toward the entry).
    short = _plan("SELL", 806.19, 12.22759325990152, 790.0, 807.14)
    assert short == TradePlan("short", 806.19, 824.54, 769.49, 2.0, 18.35)


def test_sub_dollar_prices_keep_four_significant_digits() -> None:
    assert price_decimals(0.5123) == 4
    assert price_decimals(0.012345) == 5
    assert price_decimals(1.0) == 2
    assert price_decimals(0.000001) == 9
    # ATR stop 0.015; structure 0.5123 - (0.5 - 0.0025) = 0.0148 → stop 0.4973
    plan = _plan("BUY", 0.5123, 0.01, 0.5, 0.52)
    assert plan == TradePlan("long", 0.5123, 0.4973, 0.5423, 2.0, 0.015)


def test_position_size_by_hand() -> None:
    plan = TradePlan("long", 50.0, 47.5, 55.0, 2.0, 2.5)
    assert position_size(plan, 10_000, 1) == 40  # 100 at risk / 2.50 a share
    assert position_size(plan, 10_000, 0.5) == 20
    # 5% risks 500 = 200 shares at 2.50, and 200 x 50 = 10,000 is all the capital
    assert position_size(plan, 10_000, 5) == 200
    tight = TradePlan("long", 50.0, 49.5, 51.0, 2.0, 0.5)
    assert position_size(tight, 10_000, 5) == 200  # 1,000 by risk, capped by capital
    assert position_size(plan, 100, 1) == 0  # 1.00 at risk buys no 2.50 risk
    short = TradePlan("short", 20.0, 21.0, 18.0, 2.0, 1.0)
    assert position_size(short, 5_000, 2) == 100
    assert position_size(NO_PLAN, 10_000, 1) == 0


@pytest.mark.parametrize("capital", [0, -1, math.nan, math.inf, "1000", None, True])
def test_position_size_rejects_bad_capital(capital: object) -> None:
    with pytest.raises(ValueError, match="capital"):
        position_size(NO_PLAN, capital, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("risk_pct", [0, -0.5, 100.01, math.nan, math.inf, None])
def test_position_size_rejects_bad_risk(risk_pct: object) -> None:
    with pytest.raises(ValueError, match="risk_pct"):
        position_size(NO_PLAN, 10_000, risk_pct)  # type: ignore[arg-type]


def test_position_size_accepts_full_risk_and_rejects_a_broken_plan() -> None:
    plan = TradePlan("long", 50.0, 40.0, 70.0, 2.0, 10.0)
    assert position_size(plan, 1_000, 100) == 20
    with pytest.raises(ValueError, match="positive entry"):
        position_size(TradePlan("long", 50.0, None, None, None, None), 1_000, 1)


prices = st.floats(1e-6, 1e9)


@settings(max_examples=500, deadline=None)
@given(
    verdict=st.sampled_from(VERDICTS),
    close=prices,
    atr_fraction=st.floats(0.0, 2.0),
    low_fraction=st.floats(0.0, 0.9),
    high_fraction=st.floats(0.0, 2.0),
    capital=st.floats(1.0, 1e9),
    risk_pct=st.floats(0.01, 100.0),
)
def test_plan_invariants(
    verdict: str,
    close: float,
    atr_fraction: float,
    low_fraction: float,
    high_fraction: float,
    capital: float,
    risk_pct: float,
) -> None:
    plan = _plan(
        verdict,
        close,
        close * atr_fraction,
        close * (1 - low_fraction),
        close * (1 + high_fraction),
    )
    quantity = position_size(plan, capital, risk_pct)
    assert isinstance(quantity, int) and quantity >= 0
    if plan.side == "none":
        assert plan == NO_PLAN and quantity == 0
        return
    assert plan.entry is not None and plan.stop is not None and plan.target is not None
    assert plan.risk_per_share is not None and plan.reward_risk is not None
    if plan.side == "long":
        assert 0 < plan.stop < plan.entry < plan.target
    else:
        assert 0 < plan.target < plan.entry < plan.stop
    assert plan.risk_per_share == pytest.approx(abs(plan.entry - plan.stop), rel=1e-9)
    assert plan.reward_risk == pytest.approx(2.0, abs=0.011)
    # Not absurdly wide: the 25% cap plus one tick of rounding.
    assert plan.risk_per_share <= 0.25 * plan.entry + 10.0 ** -price_decimals(plan.entry) * 1.01
    assert quantity * plan.risk_per_share <= capital * risk_pct / 100
    assert quantity * plan.entry <= capital
