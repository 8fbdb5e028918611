"""The trade plan a verdict implies, and the position size for a given capital and risk.

Long (STRONG_BUY, BUY), short (SELL, STRONG_SELL) or none (HOLD). Entry is the last close. The
stop is the wider of an ATR stop and a structure stop, then held between a floor and a cap; the
target is ``REWARD_RISK`` times the risk away. Prices are rounded to the tick (``price_decimals``)
away from the entry for the stop, so rounding never moves a stop onto the entry.
"""

from __future__ import annotations

import math
from typing import Any

from stockscan.analysis.model import Side, TradePlan, Verdict

REWARD_RISK = 2.0
STOP_ATR = 1.5  # the ATR stop: 1.5 ATR from the entry
SWING_BARS = 10  # the structure stop: beyond the extreme of the last 10 bars (last one included)
SWING_BUFFER_ATR = 0.25  # ... by a quarter ATR, so that a retest of the level does not stop out
MAX_STOP_ATR = 3.0  # never wider than 3 ATR...
MAX_STOP_FRACTION = 0.25  # ... nor 25% of the entry (keeps a short's target above zero)
MIN_STOP_FRACTION = 0.005  # never closer than 0.5% of the entry (an ATR of 0 gives no stop)

SIDES: dict[Verdict, Side] = {
    "STRONG_BUY": "long",
    "BUY": "long",
    "HOLD": "none",
    "SELL": "short",
    "STRONG_SELL": "short",
}
NO_PLAN = TradePlan(
    side="none", entry=None, stop=None, target=None, reward_risk=None, risk_per_share=None
)


def price_decimals(price: float) -> int:
    """2 decimals from $1 up; below, at least 4 and enough for 4 significant digits."""
    if price >= 1.0:
        return 2
    return max(4, 3 - math.floor(math.log10(price)))


def _to_tick(value: float, decimals: int, *, up: bool) -> float:
    scaled = value * 10.0**decimals
    nearest = round(scaled)
    # A value a hair off a tick (float noise) is on it; anything else goes to the next tick.
    if abs(scaled - nearest) < 1e-6:
        ticks = nearest
    else:
        ticks = math.ceil(scaled) if up else math.floor(scaled)
    return round(ticks / 10.0**decimals, decimals)


def stop_distance(
    side: Side, entry: float, atr: float, swing_low: float, swing_high: float
) -> tuple[float, str]:
    """Distance from entry to stop before rounding, and which rule set it."""
    atr_distance = STOP_ATR * atr
    if side == "long":
        structure = entry - (swing_low - SWING_BUFFER_ATR * atr)
    else:
        structure = (swing_high + SWING_BUFFER_ATR * atr) - entry
    distance, rule = (structure, "structure") if structure > atr_distance else (atr_distance, "atr")
    cap = min(MAX_STOP_ATR * atr, MAX_STOP_FRACTION * entry)
    if distance > cap:
        distance, rule = cap, "cap"
    floor = MIN_STOP_FRACTION * entry
    if distance < floor:
        distance, rule = floor, "floor"
    return distance, rule


def build_plan(
    verdict: Verdict, close: float, atr: float, swing_low: float, swing_high: float
) -> tuple[TradePlan, dict[str, Any]]:
    """The plan for ``verdict`` at ``close``, and the detail of how its stop was chosen."""
    side = SIDES[verdict]
    if side == "none":
        return NO_PLAN, {"side": "none"}
    decimals = price_decimals(close)
    entry = round(close, decimals)
    distance, rule = stop_distance(side, entry, atr, swing_low, swing_high)
    if side == "long":
        stop = _to_tick(entry - distance, decimals, up=False)
    else:
        stop = _to_tick(entry + distance, decimals, up=True)
    risk = round(abs(entry - stop), decimals)
    direction = 1.0 if side == "long" else -1.0
    target = round(entry + direction * REWARD_RISK * risk, decimals)
    plan = TradePlan(
        side=side,
        entry=entry,
        stop=stop,
        target=target,
        reward_risk=round(abs(target - entry) / risk, 2),
        risk_per_share=risk,
    )
    detail = {
        "side": side,
        "atr": atr,
        "swing_low" if side == "long" else "swing_high": swing_low
        if side == "long"
        else swing_high,
        "distance": distance,
        "rule": rule,
        "decimals": decimals,
    }
    return plan, detail


def _number(value: object, name: str) -> float:
    if isinstance(value, bool | str | bytes):
        raise ValueError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return number


def position_size(plan: TradePlan, capital: float, risk_pct: float) -> int:
    """Shares to buy (or sell short): floor(capital * risk_pct / 100 / risk_per_share), never more
    than floor(capital / entry); 0 when the plan has no side.

    Raises ``ValueError`` unless capital > 0 and 0 < risk_pct <= 100 (finite), or when a plan with
    a side lacks a positive entry or risk per share.
    """
    capital_value = _number(capital, "capital")
    risk_value = _number(risk_pct, "risk_pct")
    if not capital_value > 0:
        raise ValueError(f"capital must be positive, got {capital!r}")
    if not 0 < risk_value <= 100:
        raise ValueError(f"risk_pct must be in (0, 100], got {risk_pct!r}")
    if plan.side == "none":
        return 0
    entry, risk = plan.entry, plan.risk_per_share
    if entry is None or risk is None or not (entry > 0 and risk > 0):
        raise ValueError(f"a {plan.side} plan needs a positive entry and risk per share")
    budget = capital_value * risk_value / 100.0
    by_risk = math.floor(budget / risk)
    # Division can round up across an integer; the products below are what the caller checks.
    while by_risk > 0 and by_risk * risk > budget:
        by_risk -= 1
    by_capital = math.floor(capital_value / entry)
    while by_capital > 0 and by_capital * entry > capital_value:
        by_capital -= 1
    return max(0, min(by_risk, by_capital))
