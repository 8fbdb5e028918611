"""The trade plan a verdict implies, and what one job may do with it: sides, size, ticks, band.

Long (STRONG_BUY, BUY), short (SELL, STRONG_SELL) or none (HOLD). Entry is the last close. The
stop is the wider of an ATR stop and a structure stop, then held between a floor and a cap; the
target is ``REWARD_RISK`` times the risk away. Prices are on the exchange's tick (``Tick``):
the entry at the nearest tick, the stop away from the entry (rounding never tightens it), the
target toward it (rounding never promises more).

The tick. NSE (tickers ``.NS``), cash market, price-linked since 15 April 2025 (NSE circulars
of March 2025; as reported by Fyers, "Tick Size Revision for NSE Derivatives & Cash Segment -
Effective April 15, 2025", 17 March 2025, and Angel One, 17 March 2025; the monthly review from
NSE's circular of 24 May 2024, as reported by Zerodha, 25 May 2024; checked 2 December 2026):

    close below 250: 0.01; 250 to 1,000: 0.05; above 1,000 to 5,000: 0.10;
    above 5,000 to 10,000: 0.50; above 10,000 to 20,000: 1.00; above 20,000: 5.00

where the close is the stock's close on the last trading day of the *previous* month: one tick
per stock for the whole month, reviewed monthly. Any other ticker (BSE ``.BO`` included: no
rule verified here) keeps the paise rounding: 2 decimals from 1 up, below that enough for 4
significant digits (``price_decimals``).

What a job does with the plan (``position``): with ``sides="long"`` a short verdict is "avoid /
exit if held", no quantity; with ``sides="both"`` a short is sized only where the stock is
shortable. The quantity is limited by the risk (capital x risk%) *and* by the position cap
(capital x max_position_pct%), computed from the prices on the tick. A stop or target beyond
the stock's daily price band (2, 5, 10 or 20% of the last close) is said so. These are pure
functions: the job loop and the backtest call the same ones.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

from stockscan.analysis.model import Side, TradePlan, Verdict

# What a job does with a plan lives where read commands can import it without numpy; these are
# the same functions (the backtest calls them from here).
from stockscan.position import (  # noqa: F401
    BANDS,
    DEFAULT_MAX_POSITION_PCT,
    DEFAULT_SIDES,
    SIDE_SETTINGS,
    Action,
    Band,
    Position,
    SideSetting,
    band_notes,
    position,
    position_size,
)

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

# NSE cash market, from 15 April 2025: (highest reference close, tick). The first slab is
# "below 250"; each later one runs above the previous bound up to and including its own.
NSE_TICKS: tuple[tuple[float, float], ...] = (
    (250.0, 0.01),
    (1_000.0, 0.05),
    (5_000.0, 0.10),
    (10_000.0, 0.50),
    (20_000.0, 1.00),
    (math.inf, 5.00),
)
NSE = "NSE"


def price_decimals(price: float) -> int:
    """2 decimals from $1 up; below, at least 4 and enough for 4 significant digits."""
    if price >= 1.0:
        return 2
    return max(4, 3 - math.floor(math.log10(price)))


@dataclass(frozen=True)
class Tick:
    """The price step of one stock: ``size``, printed with ``decimals``, and the rule in words."""

    size: float
    decimals: int
    rule: str


def nse_tick_size(reference_close: float) -> float:
    """NSE's cash-market tick for a stock whose previous month ended at ``reference_close``."""
    if reference_close < NSE_TICKS[0][0]:
        return NSE_TICKS[0][1]
    for bound, size in NSE_TICKS[1:]:
        if reference_close <= bound:
            return size
    raise AssertionError("the last slab has no bound")  # pragma: no cover


def month_end_close(dates: Any, closes: Any) -> tuple[float, str] | None:
    """The close of the last bar before the month of the last bar, and its date: the price that
    sets NSE's tick for this month. None when the bars do not reach back a month."""
    last = dt.date.fromisoformat(str(dates[-1]))
    for index in range(len(dates) - 2, -1, -1):
        day = dt.date.fromisoformat(str(dates[index]))
        if (day.year, day.month) != (last.year, last.month):
            return float(closes[index]), day.isoformat()
    return None


def exchange_of(ticker: str) -> str | None:
    """``NSE`` for a ``.NS`` ticker: the only exchange whose tick rule is known here."""
    return NSE if ticker.upper().endswith(".NS") else None


def tick_for(exchange: str | None, close: float, reference: tuple[float, str] | None) -> Tick:
    """The tick of a stock at ``close``. NSE: from ``reference`` (the previous month's last close
    and its date), or ``close`` when the bars do not reach back that far. Anything else: the
    paise rounding of ``price_decimals``."""
    if exchange == NSE:
        price, when = reference if reference is not None else (close, "the last close")
        size = nse_tick_size(price)
        return Tick(size, 2, f"NSE tick {size:.2f} (close {price:.2f} on {when})")
    decimals = price_decimals(close)
    return Tick(10.0**-decimals, decimals, f"no exchange tick rule: {decimals} decimals")


def to_tick(value: float, tick: Tick, *, up: bool) -> float:
    """``value`` on ``tick``'s grid: a hair off a tick (float noise) is on it; anything else goes
    to the next tick up (``up``) or down."""
    scaled = value / tick.size
    nearest = round(scaled)
    if abs(scaled - nearest) < 1e-6:
        ticks = nearest
    else:
        ticks = math.ceil(scaled) if up else math.floor(scaled)
    return round(ticks * tick.size, tick.decimals)


def nearest_tick(value: float, tick: Tick) -> float:
    return round(round(value / tick.size) * tick.size, tick.decimals)


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
    verdict: Verdict,
    close: float,
    atr: float,
    swing_low: float,
    swing_high: float,
    tick: Tick | None = None,
) -> tuple[TradePlan, dict[str, Any]]:
    """The plan for ``verdict`` at ``close`` on ``tick`` (default: the paise rounding), and the
    detail of how its stop was chosen. ``ValueError`` when the tick is too coarse for the price
    to leave a stop (long) or a target (short) above zero."""
    side = SIDES[verdict]
    if side == "none":
        return NO_PLAN, {"side": "none"}
    tick = tick or tick_for(None, close, None)
    entry = nearest_tick(close, tick)
    if not entry > 0:
        raise ValueError(f"close {close} is below half a tick of {tick.size}")
    distance, rule = stop_distance(side, entry, atr, swing_low, swing_high)
    long = side == "long"
    stop = (
        to_tick(entry - distance, tick, up=False)
        if long
        else to_tick(entry + distance, tick, up=True)
    )
    risk = round(abs(entry - stop), tick.decimals)
    direction = 1.0 if long else -1.0
    # Toward the entry: a target that rounding moved further away would promise more.
    target = to_tick(entry + direction * REWARD_RISK * risk, tick, up=not long)
    if not (stop > 0 and target > 0 and risk > 0):
        raise ValueError(f"tick {tick.size} is too coarse for a {side} plan at {entry}")
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
        "swing_low" if long else "swing_high": swing_low if long else swing_high,
        "distance": distance,
        "rule": rule,
        "decimals": tick.decimals,
        "tick": tick.size,
        "tick_rule": tick.rule,
    }
    return plan, detail
