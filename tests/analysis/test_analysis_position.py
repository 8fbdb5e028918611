"""Issue 21: sides, the position cap, prices on the tick and the price band, worked by hand
(the numbers of docs/scoring.md 5.1 and 5.2), and their invariants."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockscan.analysis import Bars, TradePlan, analyze, position_size
from stockscan.analysis.model import VERDICTS
from stockscan.analysis.plan import (
    NSE,
    Tick,
    build_plan,
    month_end_close,
    nse_tick_size,
    position,
    tick_for,
    to_tick,
)

NSE_05 = tick_for(NSE, 300.0, (250.0, "2026-10-30"))
NSE_01 = tick_for(NSE, 300.0, (249.99, "2026-10-30"))


@pytest.mark.parametrize(
    ("reference", "tick"),
    [
        (0.5, 0.01),
        (249.99, 0.01),
        (250.0, 0.05),
        (1_000.0, 0.05),
        (1_000.01, 0.10),
        (5_000.0, 0.10),
        (5_000.01, 0.50),
        (10_000.0, 0.50),
        (10_000.01, 1.00),
        (20_000.0, 1.00),
        (20_000.01, 5.00),
        (150_000.0, 5.00),
    ],
)
def test_nse_tick_slabs(reference: float, tick: float) -> None:
    assert nse_tick_size(reference) == tick


def test_the_tick_is_set_by_the_previous_months_last_close() -> None:
    dates = np.array(["2026-10-29", "2026-10-30", "2026-11-02", "2026-11-03"], "datetime64[D]")
    closes = np.array([990.0, 999.0, 1010.0, 1020.0])
    assert month_end_close(dates, closes) == (999.0, "2026-10-30")
    tick = tick_for(NSE, 1020.0, month_end_close(dates, closes))
    # 1,020 today, but October ended at 999: November's tick is 0.05, not 0.10.
    assert tick == Tick(0.05, 2, "NSE tick 0.05 (close 999.00 on 2026-10-30)")
    assert month_end_close(dates[2:], closes[2:]) is None
    # Not NSE: the paise rounding, whatever the price.
    assert tick_for(None, 1020.0, None) == Tick(0.01, 2, "no exchange tick rule: 2 decimals")
    assert tick_for("BSE", 0.5123, None).size == pytest.approx(1e-4)


def test_tick_rounding_at_the_boundary() -> None:
    # Long at 300.00, ATR 4.01, swing low 296: the ATR stop 6.015 is wider than the structure
    # stop 5.0025, so the stop is 293.985 before rounding.
    plan, detail = build_plan("BUY", 300.0, 4.01, 296.0, 301.0, tick=NSE_05)
    assert plan == TradePlan("long", 300.0, 293.95, 312.10, 2.0, 6.05)
    assert detail["tick"] == 0.05 and detail["tick_rule"].startswith("NSE tick 0.05")
    plan = build_plan("BUY", 300.0, 4.01, 296.0, 301.0, tick=NSE_01)[0]
    assert plan == TradePlan("long", 300.0, 293.98, 312.04, 2.0, 6.02)
    # The short mirror: 306.015 goes up, away from the entry.
    plan = build_plan("SELL", 300.0, 4.01, 299.0, 301.0, tick=NSE_05)[0]
    assert plan == TradePlan("short", 300.0, 306.05, 287.90, 2.0, 6.05)
    plan = build_plan("STRONG_SELL", 300.0, 4.01, 299.0, 301.0, tick=NSE_01)[0]
    assert plan == TradePlan("short", 300.0, 306.02, 287.96, 2.0, 6.02)
    # A stop on a tick stays where it is, on either side and either tick.
    for tick in (NSE_05, NSE_01):
        assert build_plan("BUY", 300.0, 4.0, 296.0, 301.0, tick=tick)[0].stop == 294.0
        assert build_plan("SELL", 300.0, 4.0, 299.0, 301.0, tick=tick)[0].stop == 306.0
    # The entry goes to the nearest tick: 3,580.02 on a 0.10 tick is 3,580.00.
    coarse = tick_for(NSE, 3580.02, (3636.53, "2026-11-30"))
    assert build_plan("SELL", 3580.02, 100.0, 3500.0, 3600.0, tick=coarse)[0].entry == 3580.0


def test_to_tick_directions() -> None:
    assert to_tick(293.985, NSE_05, up=False) == 293.95
    assert to_tick(293.985, NSE_05, up=True) == 294.0
    assert to_tick(312.1000000001, NSE_05, up=False) == 312.10  # float noise is on the tick
    assert to_tick(312.12, NSE_05, up=False) == 312.10  # a target rounded toward a long's entry
    assert to_tick(287.88, NSE_05, up=True) == 287.90  # ... and toward a short's


SHORT = TradePlan("short", 100.0, 103.5, 93.0, 2.0, 3.5)
STRONG_SHORT = TradePlan("short", 100.0, 103.0, 94.0, 2.0, 3.0)


def test_a_long_only_sell_is_avoid_exit_if_held() -> None:
    held = position(SHORT, capital=100_000, risk_pct=1, sides="long", shortable=True)
    assert held.action == "avoid" and held.quantity == 0 and held.risk == 0
    assert held.notes == ("avoid / exit if held: long-only job (--sides long)",)


def test_strong_sell_under_both_sides_shortable_or_not() -> None:
    held = position(STRONG_SHORT, capital=100_000, risk_pct=0.5, sides="both", shortable=True)
    assert (held.action, held.quantity, held.risk, held.invested) == ("short", 166, 498.0, 16_600.0)
    assert not held.capped
    assert held.notes == ("price band unknown, not checked",)
    other = position(STRONG_SHORT, capital=100_000, risk_pct=0.5, sides="both", shortable=False)
    assert other.action == "avoid" and other.quantity == 0
    assert other.notes == ("avoid / exit if held: not shortable (not in the --shortable list)",)


def test_a_cap_that_binds() -> None:
    tight = TradePlan("long", 50.0, 49.5, 51.0, 2.0, 0.5)
    held = position(tight, capital=100_000, risk_pct=1, band="none")
    assert (held.action, held.quantity, held.capped) == ("long", 400, True)
    assert held.risk == 200.0 and held.invested == 20_000.0
    assert held.notes == (
        "capped at 20% of capital (20,000.00): risk 200.00 = 0.20% of capital, not 1%",
    )
    assert position_size(tight, 100_000, 1) == 2_000  # without a cap: all of the capital
    assert position_size(tight, 100_000, 1, 20) == 400
    loose = position(tight, capital=100_000, risk_pct=0.1, band="none")
    assert (loose.quantity, loose.capped, loose.notes) == (200, False, ())


def test_a_stop_beyond_a_5_percent_band() -> None:
    plan = TradePlan("long", 200.0, 188.0, 224.0, 2.0, 12.0)
    held = position(plan, capital=100_000, risk_pct=1, max_position_pct=100, band=5)
    assert held.notes == (
        "stop 188.00 beyond the 5% price band 190.00-210.00: no order there today",
        "target 224.00 beyond the 5% price band 190.00-210.00: no order there today",
    )
    ten = position(plan, capital=100_000, risk_pct=1, max_position_pct=100, band=10)
    assert ten.notes == (
        "target 224.00 beyond the 10% price band 180.00-220.00: no order there today",
    )
    assert position(plan, capital=100_000, risk_pct=1, max_position_pct=100, band=20).notes == ()
    assert position(plan, capital=100_000, risk_pct=1, band="none").notes == ()
    # A short: the stop above the band.
    short = position(
        SHORT, capital=100_000, risk_pct=1, max_position_pct=100, sides="both", shortable=True,
        band=2,
    )  # fmt: skip
    assert (
        short.notes[0] == "stop 103.50 beyond the 2% price band 98.00-102.00: no order there today"
    )


@pytest.mark.parametrize("pct", [0, -1, 100.5, math.nan, math.inf])
def test_the_cap_must_be_a_percentage(pct: float) -> None:
    with pytest.raises(ValueError, match="max_position_pct"):
        position(STRONG_SHORT, capital=1_000, risk_pct=1, max_position_pct=pct)
    with pytest.raises(ValueError, match="max_position_pct"):
        position_size(STRONG_SHORT, 1_000, 1, pct)


ticks = st.sampled_from([None, 0.0, 250.0, 1_000.01, 5_000.01, 10_000.01, 20_000.01])


@settings(max_examples=500, deadline=None)
@given(
    verdict=st.sampled_from(VERDICTS),
    close=st.floats(0.5, 200_000.0),
    reference_factor=st.floats(0.8, 1.25),
    nse=st.booleans(),
    atr_fraction=st.floats(0.0, 0.5),
    low_fraction=st.floats(0.0, 0.5),
    high_fraction=st.floats(0.0, 0.5),
    capital=st.floats(1_000.0, 1e9),
    risk_pct=st.floats(0.01, 100.0),
    max_position_pct=st.floats(0.01, 100.0),
    sides=st.sampled_from(["long", "both"]),
    shortable=st.booleans(),
    band=st.sampled_from([2, 5, 10, 20, "none", "unknown"]),
)
def test_position_invariants(
    verdict: str,
    close: float,
    reference_factor: float,
    nse: bool,
    atr_fraction: float,
    low_fraction: float,
    high_fraction: float,
    capital: float,
    risk_pct: float,
    max_position_pct: float,
    sides: str,
    shortable: bool,
    band: int | str,
) -> None:
    reference = (close * reference_factor, "2026-10-30")
    tick = tick_for(NSE if nse else None, close, reference)
    plan = build_plan(
        verdict,  # type: ignore[arg-type]
        close,
        close * atr_fraction,
        close * (1 - low_fraction),
        close * (1 + high_fraction),
        tick=tick,
    )[0]
    held = position(
        plan,
        capital=capital,
        risk_pct=risk_pct,
        max_position_pct=max_position_pct,
        sides=sides,  # type: ignore[arg-type]
        shortable=shortable,
        band=band,  # type: ignore[arg-type]
    )
    assert isinstance(held.quantity, int) and held.quantity >= 0
    if plan.side == "none":
        assert held.action == "none" and held.quantity == 0
        return
    assert plan.entry is not None and plan.stop is not None and plan.target is not None
    assert plan.risk_per_share is not None
    # On the tick: every price a whole number of ticks.
    for price in (plan.entry, plan.stop, plan.target):
        assert abs(price / tick.size - round(price / tick.size)) < 1e-6
    if plan.side == "long":
        assert 0 < plan.stop < plan.entry < plan.target
    else:
        assert 0 < plan.target < plan.entry < plan.stop
    # The money at risk, from the prices on the tick, never above capital x risk%.
    assert held.quantity * abs(plan.entry - plan.stop) <= capital * risk_pct / 100 * (1 + 1e-12)
    assert held.quantity * plan.risk_per_share <= capital * risk_pct / 100
    # The position never above the cap.
    assert held.quantity * plan.entry <= capital * max_position_pct / 100
    # A long-only job never holds a short quantity; nor does any job a stock it cannot short.
    if plan.side == "short" and (sides == "long" or not shortable):
        assert held.action == "avoid" and held.quantity == 0
    else:
        assert held.action == plan.side
    assert held.quantity == position_size(plan, capital, risk_pct, max_position_pct) or (
        held.action == "avoid"
    )


def test_goog_read_as_an_nse_stock(goog: Bars) -> None:
    # February 2013 ended at 801.20: a 0.05 tick. Entry 806.19 → 806.20; the structure stop
    # 806.20 - (784.40 - 0.25 x 12.2276) = 24.857 below, 781.343 → 781.30; risk 24.90; target
    # 806.20 + 2 x 24.90 = 856.00 (docs/scoring.md 5.1).
    analysis = analyze(goog, exchange=NSE)
    assert analysis.plan == TradePlan("long", 806.2, 781.3, 856.0, 2.0, 24.9)
    assert analysis.raw["plan"]["tick_rule"] == "NSE tick 0.05 (close 801.20 on 2013-02-28)"
    assert analyze(goog).plan.entry == 806.19  # not NSE: the paise


@settings(max_examples=300, deadline=None)
@given(
    verdict=st.sampled_from(VERDICTS),
    close=st.floats(1.0, 50_000.0),
    atr_fraction=st.floats(0.0, 0.3),
    shortable=st.booleans(),
    capital=st.floats(1_000.0, 1e8),
    risk_pct=st.floats(0.01, 100.0),
)
def test_a_long_only_job_never_holds_a_short_quantity(
    verdict: str, close: float, atr_fraction: float, shortable: bool, capital: float,
    risk_pct: float,
) -> None:  # fmt: skip
    from stockscan.jobs import JobRequest

    ticker = "X.NS"
    request = JobRequest(
        tickers=(ticker,), source="demo", capital=capital, risk_pct=risk_pct,
        shortable=(ticker,) if shortable else (),
    )  # fmt: skip
    tick = tick_for(NSE, close, None)
    atr = close * atr_fraction
    plan = build_plan(verdict, close, atr, close - atr, close + atr, tick=tick)[0]  # type: ignore[arg-type]
    held = request.position(ticker, plan)
    assert held.action != "short"
    if plan.side == "short":
        assert held.action == "avoid" and held.quantity == 0 and held.risk == 0
