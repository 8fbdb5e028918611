"""The Yahoo source's side of HTTP: what yfinance sends through our session, and what it means.

yfinance sends every request (timezone probe, cookie, crumb, consent page, chart, quoteSummary,
and its own second try) through ``paced_session``'s ``request``, which hands it to the source
(``YahooSource._send``: paced by the rate budget, counted, bounded by its ``history()`` call's
deadline). ``Attempt`` carries, per thread, what the current call may spend and what it was
answered; ``classify`` turns what a call raised into an error kind, by Yahoo's answer (HTTP
status and error code) rather than by the exception class yfinance raises. yfinance's log
records go to the attempt, never to stderr.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import warnings
from collections.abc import Callable, Sequence
from typing import Any

from stockscan.errors import StockError


class YahooAnswered(Exception):
    """Yahoo answered a request definitively (raised from our session, inside yfinance, so its
    cookie-strategy retries stop): 429, a 5xx, or a 404 with Yahoo's "Not Found" code. Not an
    OSError, so yfinance does not take it for a transient transport failure."""

    def __init__(self, status: int, endpoint: str, code: str | None, url: str) -> None:
        self.status = status
        self.endpoint = endpoint
        self.code = code
        super().__init__(f"HTTP {status}{f' {code}' if code else ''} from {endpoint} ({url})")


class Attempt(threading.local):
    """What the current thread's ``history()`` call may spend and has been answered."""

    deadline: float | None = None
    stop: threading.Event | None = None
    answers: list[tuple[str, int]]
    log: list[str]

    def __init__(self) -> None:
        self.answers = []
        self.log = []


def endpoint(url: str) -> str:
    if "/v8/finance/chart/" in url:
        return "chart"
    if "/finance/quoteSummary/" in url or "/v7/finance/quote" in url:
        return "quote"
    if "/getcrumb" in url:
        return "crumb"
    return "cookie"  # fc.yahoo.com, guce/consent.yahoo.com


def yahoo_code(body: bytes) -> str | None:
    """Yahoo's error code in a JSON error body (``{"chart": {"error": {"code": …}}}``)."""
    try:
        data = json.loads(body)
        for envelope in data.values():
            error = envelope.get("error") if isinstance(envelope, dict) else None
            if isinstance(error, dict) and error.get("code"):
                return str(error["code"])
    except (ValueError, AttributeError, TypeError):
        pass
    return None


class YfinanceLog(logging.Handler):
    """yfinance's log records go to the current attempt (for the stock's error record), never
    to stderr."""

    def __init__(self, attempt: Attempt) -> None:
        super().__init__(logging.DEBUG)
        self.attempt = attempt

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.attempt.log.append(record.getMessage())


# What the current thread's history() call may spend and has been answered: one per thread,
# shared by every source (yfinance's session and logger are process-wide too).
ATTEMPT = Attempt()
_QUIET_LOCK = threading.Lock()
_QUIETED: list[bool] = []


def quiet_yfinance() -> None:
    """yfinance's logger and the warnings raised in its code (Pandas4Warning on pandas 3.1)
    write nothing to our stderr; warning-level records are kept with the thread's attempt.
    Installed once, never removed (a logger without a handler would print to stderr)."""
    with _QUIET_LOCK:
        if _QUIETED:
            return
        logger = logging.getLogger("yfinance")
        logger.addHandler(YfinanceLog(ATTEMPT))
        logger.propagate = False
        warnings.filterwarnings("ignore", module=r"yfinance(\.|$)")
        _QUIETED.append(True)


def classify(
    exc: BaseException,
    ticker: str,
    answers: Sequence[tuple[str, int]] = (),
    log: Sequence[str] = (),
) -> StockError:
    """Map what a ``history()`` call raised to an error kind: by Yahoo's answer (HTTP status
    and error code) when there was one, by the exception only when there was none.
    ``answers``: the (endpoint, status) of each request the call sent; ``log``: yfinance's
    warnings during it."""
    from yfinance import exceptions as yfe

    text = f"{type(exc).__name__}: {exc}"
    if log:
        text += f" (yfinance: {log[-1]})"
    if isinstance(exc, YahooAnswered):
        if exc.status == 429:
            return StockError("rate_limited", f"Yahoo answered HTTP 429: {text}")
        if exc.status >= 500:
            return StockError("network", f"Yahoo's servers answered HTTP {exc.status}: {text}")
        return StockError("invalid_symbol", f"Yahoo does not know {ticker}: {exc}")
    if isinstance(exc, yfe.YFRateLimitError):
        return StockError("rate_limited", text)
    data = [status for endpoint, status in answers if endpoint in ("chart", "quote")]
    if data and data[-1] >= 500:
        return StockError("network", f"Yahoo's servers answered HTTP {data[-1]}: {text}")
    if data and data[-1] == 404:
        return StockError("invalid_symbol", f"Yahoo does not know {ticker}: {exc}")
    if data and data[-1] >= 400:
        return StockError("source_error", f"Yahoo answered HTTP {data[-1]}: {text}")
    if isinstance(exc, yfe.YFPricesMissingError | yfe.YFInvalidPeriodError):
        return StockError("no_data", f"Yahoo returned no prices for {ticker}: {exc}")
    if isinstance(exc, yfe.YFTickerMissingError | yfe.YFTzMissingError):
        return StockError("invalid_symbol", f"Yahoo does not know {ticker}: {exc}")
    if isinstance(exc, OSError | TimeoutError) or is_transport_error(exc):
        return StockError("network", text)
    return StockError("source_error", text)


def paced_session(send: Callable[..., Any]) -> Any:
    """A curl_cffi session (what yfinance expects) whose every request goes through
    ``send(request, method, url, **options)``, ``request`` being the session's own."""
    from curl_cffi import requests as curl

    class PacedSession(curl.Session):
        def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
            assert not args, "yfinance passes request options by name"
            return send(functools.partial(curl.Session.request, self), method, url, **kwargs)

    return PacedSession(impersonate="chrome")


def is_transport_error(exc: BaseException) -> bool:
    try:
        from curl_cffi.requests.exceptions import RequestException
    except ImportError:  # pragma: no cover - curl_cffi is a dependency of yfinance
        return False
    return isinstance(exc, RequestException)
