"""Ticker symbols: normalised and checked before they reach a source or the database."""

from __future__ import annotations

import re
from collections.abc import Iterable

from stockscan.errors import UsageError

MAX_TICKER_LENGTH = 20
# An optional ^ (indices: ^NSEI), a base of letters, digits, & and - (M&M, BAJAJ-AUTO), an
# optional exchange suffix (.NS, .BO) and an optional Yahoo instrument suffix (=X, =F).
TICKER_PATTERN = re.compile(r"\^?[A-Z0-9][A-Z0-9&-]*(?:\.[A-Z]{1,4})?(?:=[A-Z])?")


def normalise(raw: str) -> str:
    """Strip and uppercase one ticker; ``UsageError`` naming it when it is not a ticker."""
    ticker = raw.strip().upper()
    if (
        not ticker
        or len(ticker) > MAX_TICKER_LENGTH
        or not ticker.isascii()
        or TICKER_PATTERN.fullmatch(ticker) is None
    ):
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise UsageError(
            f"invalid ticker {shown!r}: expected a symbol like TCS.NS, M&M.NS, BAJAJ-AUTO.NS "
            f"or ^NSEI (letters, digits, & and -, at most {MAX_TICKER_LENGTH} characters)"
        )
    return ticker


def normalise_all(raws: Iterable[str]) -> list[str]:
    """Normalise every ticker, drop duplicates, keep first-seen order.

    All invalid tickers are named in one error, so a user fixes a list in one go.
    """
    seen: dict[str, None] = {}
    bad: list[str] = []
    for raw in raws:
        try:
            seen.setdefault(normalise(raw), None)
        except UsageError as exc:
            bad.append(str(exc))
    if bad:
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        raise UsageError("; ".join(bad[:3]) + more)
    if not seen:
        raise UsageError("no tickers given")
    return list(seen)
