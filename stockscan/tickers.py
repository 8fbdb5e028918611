"""Ticker symbols: normalised and checked before they reach a source or the database."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from stockscan.errors import UsageError

MAX_TICKER_LENGTH = 20
# An optional ^ (indices: ^NSEI), a base of letters, digits, & and - (M&M, BAJAJ-AUTO), an
# optional exchange suffix (.NS, .BO) and an optional Yahoo instrument suffix (=X, =F).
TICKER_PATTERN = re.compile(r"\^?[A-Z0-9][A-Z0-9&-]*(?:\.[A-Z]{1,4})?(?:=[A-Z])?")


EXCHANGE_SUFFIXES = {"NSE": ".NS", "BSE": ".BO"}
# The exchange setting's third value: bare symbols are Yahoo's as they are (US listings),
# chosen on purpose, so without the note.
AS_IS = "none"
EXCHANGES = (*EXCHANGE_SUFFIXES, AS_IS)
EXCHANGE_ENV = "STOCKSCAN_EXCHANGE"


def default_exchange(option: str | None) -> str | None:
    """The exchange for bare symbols: ``--exchange``, else ``$STOCKSCAN_EXCHANGE``; NSE, BSE,
    ``none`` (take them as they are, on purpose), or None when neither says (as they are,
    with a note)."""
    if option is not None:
        return _exchange(option, "--exchange")
    raw = os.environ.get(EXCHANGE_ENV, "").strip()
    return _exchange(raw, EXCHANGE_ENV) if raw else None


def _exchange(raw: str, where: str) -> str:
    for exchange in EXCHANGES:
        if raw.strip().lower() == exchange.lower():
            return exchange
    raise UsageError(f"{where} {raw!r}: expected one of {', '.join(EXCHANGES)}")


def is_bare(ticker: str) -> bool:
    """No exchange suffix, not an index, not an instrument: on Yahoo, a US listing."""
    return not any(c in ticker for c in ".^=")


def bare_note(
    tickers: Iterable[str], exchange: str | None, *, fix: str | None = None
) -> str | None:
    """The one line that says bare symbols were taken as they are, unless ``exchange`` says
    so on purpose (``none``) or none of ``tickers`` is bare. ``fix`` replaces the advice."""
    if exchange is not None:
        return None
    bare = [t for t in tickers if is_bare(t)]
    if not bare:
        return None
    shown = ", ".join(bare[:5]) + (f" and {len(bare) - 5} more" if len(bare) > 5 else "")
    one, many = bare[0], len(bare) > 1
    advice = fix or (
        f"For NSE or BSE add .NS or .BO, or use --exchange NSE|BSE (or {EXCHANGE_ENV}=NSE);"
        " --exchange none takes bare symbols as they are without this note."
    )
    return (
        f"Note: {shown} {'have' if many else 'has'} no exchange suffix: taken as"
        f" {'they are' if many else 'it is'}, which on Yahoo is usually a US listing ({one} is"
        f" not {one}.NS). {advice}"
    )


def normalise(raw: str, exchange: str | None = None) -> str:
    """Strip and uppercase one ticker; ``UsageError`` naming it when it is not a ticker.

    With ``exchange`` NSE or BSE, a bare symbol gets that exchange's Yahoo suffix
    (``TCS`` → ``TCS.NS``); a symbol with a suffix of its own, or an index, keeps it. With
    None or ``none`` it is taken as it is.
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
    if exchange in EXCHANGE_SUFFIXES and is_bare(ticker):
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
