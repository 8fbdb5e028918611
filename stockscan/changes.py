"""What changed since each ticker's previous analysis: the morning question of a nightly scan.

Pure logic over pairs of results (the SQL is ``store.result_pairs``): verdict moves, new
STRONG_BUYs, and the previous plan's stop or target reached by the new close.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def events(pair: Mapping[str, Any]) -> list[str]:
    """The changes between a ticker's latest result and the one before it, in words."""
    found = []
    verdict, previous = pair["verdict"], pair["prev_verdict"]
    if verdict == "STRONG_BUY" and previous != "STRONG_BUY":
        found.append("new STRONG_BUY")
    if previous is not None and verdict != previous:
        # Results of two scoring versions were judged by different rules: the move may be the
        # rules', not the stock's (docs/scoring.md, "Versions").
        version, before = pair.get("scoring_version"), pair.get("prev_scoring_version")
        rules = f" (scoring version {before} → {version})" if version != before else ""
        found.append(f"{previous} → {verdict}{rules}")
    close, side = pair["close"], pair["prev_side"]
    stop, target = pair["prev_stop"], pair["prev_target"]
    if close is None:
        # A result imported from the old system has no close (it never recorded one): whether
        # the previous stop or target was reached is unknown, so nothing is said about it.
        return found
    if side == "long":
        if stop is not None and close <= stop:
            found.append(f"stop hit: close {close:.2f} at or below the stop {stop:.2f}")
        if target is not None and close >= target:
            found.append(f"target reached: close {close:.2f} at or above {target:.2f}")
    elif side == "short":
        if stop is not None and close >= stop:
            found.append(f"stop hit: close {close:.2f} at or above the short stop {stop:.2f}")
        if target is not None and close <= target:
            found.append(f"target reached: close {close:.2f} at or below {target:.2f}")
    return found


def changes(pairs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The pairs with at least one event, each with its ``events``."""
    out = []
    for pair in pairs:
        found = events(pair)
        if found:
            out.append({**pair, "events": found})
    return out
