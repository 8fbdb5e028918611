"""What one job does with a trade plan: its sides, its position cap, the stock's price band.

Pure functions over a ``TradePlan``, re-exported by ``stockscan.analysis.plan`` (documented
there and in docs/scoring.md 5.2). Kept out of the analysis package so that read commands
(``results show``, ``jobs show``), which say what a job made of a stored plan, need no numpy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

SideSetting = Literal["long", "both"]
SIDE_SETTINGS: tuple[SideSetting, ...] = ("long", "both")
DEFAULT_SIDES: SideSetting = "long"
DEFAULT_MAX_POSITION_PCT = 20.0
BANDS: tuple[int, ...] = (2, 5, 10, 20)
# A stock's band: a percentage of BANDS, "none" (no fixed band: NSE's F&O stocks) or "unknown"
# (no band file given, or the stock is not in it): neither is checked.
Band = int | Literal["none", "unknown"]
Action = Literal["long", "short", "avoid", "none"]
# Plans from this scoring version on are on the tick and sized by these rules.
RULES_SINCE_VERSION = 2


class TradePlan(Protocol):
    """What these rules read of a plan: ``stockscan.analysis.TradePlan``, or ``Levels``."""

    @property
    def side(self) -> str: ...
    @property
    def entry(self) -> float | None: ...
    @property
    def stop(self) -> float | None: ...
    @property
    def target(self) -> float | None: ...
    @property
    def risk_per_share(self) -> float | None: ...


@dataclass(frozen=True)
class Levels:
    """A stored plan's levels (a result row), for the rules without the analysis package."""

    side: str
    entry: float | None
    stop: float | None
    target: float | None
    risk_per_share: float | None

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> Levels:
        entry, stop = row["entry"], row["stop"]
        risk = abs(entry - stop) if entry is not None and stop is not None else None
        return cls(row["side"], entry, stop, row["target"], risk)


def rules_apply(scoring_version: object) -> bool:
    """Whether a result of ``scoring_version`` was made under these rules (2 on; not 1, not an
    import of the old system's, 'legacy')."""
    try:
        return int(str(scoring_version)) >= RULES_SINCE_VERSION
    except ValueError:
        return False


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


def _percent(value: object, name: str) -> float:
    number = _number(value, name)
    if not 0 < number <= 100:
        raise ValueError(f"{name} must be in (0, 100], got {value!r}")
    return number


def _money_settings(
    capital: float, risk_pct: float, max_position_pct: float
) -> tuple[float, float, float]:
    capital_value = _number(capital, "capital")
    if not capital_value > 0:
        raise ValueError(f"capital must be positive, got {capital!r}")
    return (
        capital_value,
        _percent(risk_pct, "risk_pct"),
        _percent(max_position_pct, "max_position_pct"),
    )


def _sizes(
    plan: TradePlan, capital: float, risk_pct: float, max_position_pct: float
) -> tuple[int, int]:
    """(shares the risk allows, shares the position cap allows), both checked by product."""
    capital_value, risk_value, cap_value = _money_settings(capital, risk_pct, max_position_pct)
    entry, risk = plan.entry, plan.risk_per_share
    if entry is None or risk is None or not (entry > 0 and risk > 0):
        raise ValueError(f"a {plan.side} plan needs a positive entry and risk per share")
    budget = capital_value * risk_value / 100.0
    by_risk = math.floor(budget / risk)
    # Division can round up across an integer; the products below are what the caller checks.
    while by_risk > 0 and by_risk * risk > budget:
        by_risk -= 1
    most = capital_value * cap_value / 100.0
    by_cap = math.floor(most / entry)
    while by_cap > 0 and by_cap * entry > most:
        by_cap -= 1
    return max(0, by_risk), max(0, by_cap)


def position_size(
    plan: TradePlan, capital: float, risk_pct: float, max_position_pct: float = 100.0
) -> int:
    """Shares to buy (or sell short): floor(capital * risk_pct / 100 / risk_per_share), never more
    than floor(capital * max_position_pct / 100 / entry); 0 when the plan has no side.

    Raises ``ValueError`` unless capital > 0, 0 < risk_pct <= 100 and 0 < max_position_pct <= 100
    (finite), or when a plan with a side lacks a positive entry or risk per share.
    """
    if plan.side == "none":
        _money_settings(capital, risk_pct, max_position_pct)
        return 0
    by_risk, by_cap = _sizes(plan, capital, risk_pct, max_position_pct)
    return min(by_risk, by_cap)


@dataclass(frozen=True)
class Position:
    """What one job's settings make of a plan: the action, the quantity and what to know.

    ``action`` is ``long`` or ``short`` (an order to place, ``quantity`` shares), ``avoid`` (a
    short verdict the job may not act on: avoid the stock, exit if held) or ``none`` (HOLD).
    ``risk`` and ``invested`` are the money at risk and in the position at ``quantity``;
    ``capped`` says the position cap, not the risk, set the quantity. ``notes`` are the
    sentences the plan shows, in order.
    """

    action: Action
    quantity: int
    risk: float
    invested: float
    capped: bool
    band: Band
    notes: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "quantity": self.quantity,
            "risk": self.risk,
            "invested": self.invested,
            "capped": self.capped,
            "band": self.band,
            "notes": list(self.notes),
        }


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _price(value: float) -> str:
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.4g}"


def band_notes(plan: TradePlan, band: Band) -> list[str]:
    """Where the stop or target of ``plan`` lies beyond the daily price band around its entry
    (the last close, the next session's base price): the exchange takes no order there."""
    if band == "unknown":
        return ["price band unknown, not checked"]
    if band == "none" or plan.entry is None or plan.stop is None or plan.target is None:
        return []
    low, high = plan.entry * (1 - band / 100.0), plan.entry * (1 + band / 100.0)
    slack = 1e-9 * plan.entry
    where = f"the {band}% price band {_price(low)}-{_price(high)}"
    found = []
    for name, level in (("stop", plan.stop), ("target", plan.target)):
        if level < low - slack or level > high + slack:
            found.append(f"{name} {_price(level)} beyond {where}: no order there today")
    return found


def position(
    plan: TradePlan,
    *,
    capital: float,
    risk_pct: float,
    max_position_pct: float = DEFAULT_MAX_POSITION_PCT,
    sides: SideSetting = DEFAULT_SIDES,
    shortable: bool = False,
    band: Band = "unknown",
) -> Position:
    """The job's position in ``plan``: a short only with ``sides="both"`` and ``shortable``;
    the quantity the smaller of what the risk and the position cap allow."""
    if sides not in SIDE_SETTINGS:
        raise ValueError(f"sides must be one of {', '.join(SIDE_SETTINGS)}, got {sides!r}")
    if plan.side == "none":
        _money_settings(capital, risk_pct, max_position_pct)
        return Position("none", 0, 0.0, 0.0, False, band, ())
    if plan.side == "short" and (sides == "long" or not shortable):
        _money_settings(capital, risk_pct, max_position_pct)
        why = (
            "long-only job (--sides long)"
            if sides == "long"
            else "not shortable (not in the --shortable list)"
        )
        return Position("avoid", 0, 0.0, 0.0, False, band, (f"avoid / exit if held: {why}",))
    by_risk, by_cap = _sizes(plan, capital, risk_pct, max_position_pct)
    quantity = min(by_risk, by_cap)
    assert plan.entry is not None and plan.risk_per_share is not None
    risk = round(quantity * plan.risk_per_share, 2)
    invested = round(quantity * plan.entry, 2)
    capped = by_cap < by_risk
    notes = []
    if capped:
        most = _money(capital * max_position_pct / 100)
        notes.append(
            f"capped at {max_position_pct:g}% of capital ({most}): risk {_money(risk)}"
            f" = {risk / capital * 100:.2f}% of capital, not {risk_pct:g}%"
        )
    notes.extend(band_notes(plan, band))
    action: Action = "long" if plan.side == "long" else "short"
    return Position(action, quantity, risk, invested, capped, band, tuple(notes))
