"""Ticker symbols: normalised and checked before they reach a source or the database."""

from __future__ import annotations

import re
from collections.abc import Iterable

from stockscan.errors import UsageError

MAX_TICKER_LENGTH = 20
# An optional ^ (indices: ^NSEI), a base of letters, digits, & and - (M&M, BAJAJ-AUTO), an
# optional exchange suffix (.NS, .BO) and an optional Yahoo instrument suffix (=X, =F).
TICKER_PATTERN = re.compile(r"\^?[A-Z0-9][A-Z0-9&-]*(?:\.[A-Z]{1,4})?(?:=[A-Z])?")


EXCHANGE_SUFFIXES = {"NSE": ".NS", "BSE": ".BO"}


def normalise(raw: str, exchange: str | None = None) -> str:
    """Strip and uppercase one ticker; ``UsageError`` naming it when it is not a ticker.

    With ``exchange`` (NSE or BSE), a bare symbol gets that exchange's Yahoo suffix
    (``TCS`` → ``TCS.NS``); a symbol with a suffix of its own, or an index, keeps it.
    """
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
    if exchange is not None and not any(c in ticker for c in ".^="):
        ticker += EXCHANGE_SUFFIXES[exchange]
        if len(ticker) > MAX_TICKER_LENGTH:
            raise UsageError(f"invalid ticker {raw!r}: too long with its {exchange} suffix")
    return ticker


def normalise_all(raws: Iterable[str], exchange: str | None = None) -> list[str]:
    """Normalise every ticker, drop duplicates, keep first-seen order.

    All invalid tickers are named in one error, so a user fixes a list in one go.
    """
    seen: dict[str, None] = {}
    bad: list[str] = []
    for raw in raws:
        try:
            seen.setdefault(normalise(raw, exchange), None)
        except UsageError as exc:
            bad.append(str(exc))
    if bad:
        more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
        raise UsageError("; ".join(bad[:3]) + more)
    if not seen:
        raise UsageError("no tickers given")
    return list(seen)
