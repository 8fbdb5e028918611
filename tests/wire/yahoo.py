"""A stand-in for Yahoo Finance's HTTP answers, with the real, unmodified yfinance above it.

Nothing of yfinance is replaced. ``install_client(url)`` rewrites the address of every request
curl_cffi sends (``https://query2.finance.yahoo.com/v8/...`` becomes
``http://127.0.0.1:PORT/query2.finance.yahoo.com/v8/...``) and sends it for real, through
libcurl, to a ``Wire`` server on the loopback. The address is an IP literal, so curl has no
name to resolve (its Chrome impersonation resolves names even when told where to connect,
so a host name would reach the real DNS); every answer is checked to have come from 127.0.0.1
(curl's own ``primary_ip``), Python's resolver is made to raise, and proxies are bypassed.

The answers are shaped after Yahoo's real ones; each says where its shape comes from. The
URLs are the ones yfinance 1.7.0 requests (yfinance/data.py, base.py, scrapers/history.py,
scrapers/quote.py):

- ``fc.yahoo.com`` (cookie, ``YfData._get_cookie_basic``),
- ``query1``/``query2 .../v1/test/getcrumb`` (crumb, ``_get_crumb_basic``/``_get_crumb_csrf``),
- ``guce.yahoo.com/consent`` (the 'csrf' cookie strategy, tried after any 4xx/5xx),
- ``query2 .../v8/finance/chart/T`` (the timezone probe ``range=1d`` in ``_fetch_ticker_tz``,
  and the bars: ``range=2y`` or ``period1``/``period2``),
- ``query2 .../v10/finance/quoteSummary/T`` (``Ticker.info``, tried when the probe fails).

A scenario (``Wire.scenario``, a dict) says how to answer: ``{"rate_limited": true}`` (429 to
everything), ``{"error_500": "json" | "html"}`` (the chart endpoint), ``{"zero_open": {"T.NS":
"2026-05-04"}}``, ``{"end": "2026-11-27"}`` (the last session Yahoo has). Unknown symbols are
those not in ``Wire.known`` when it is set, or any symbol starting with ``NOPE``. ``Blackhole``
is a loopback port that accepts connections and never answers.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

IST = ZoneInfo("Asia/Kolkata")
WIRE_ENV = "STOCKSCAN_WIRE"  # the stand-in's base URL, for a child process

# --- the answers -----------------------------------------------------------------------------

# fc.yahoo.com answers 404 with the A3 cookie (yfinance data.py only needs the cookie set;
# the 404 page is what a browser sees, quoted in yfinance issue #1729 'cookie & crumb').
COOKIE_HEADER = "A3=d=AQABBKx-wire-stand-in&S=AQAAAk; Max-Age=31557600; Path=/; HttpOnly"
CRUMB = "Xy8sYvKr3Jk"  # getcrumb answers 200 text/plain with an 11-character crumb
# The 429 body is literally this text (yfinance data.py tests for "Too Many Requests" in it;
# after a 429 on getcrumb, yfinance keeps that body as its crumb and sends it on every request).
TOO_MANY = "Edge: Too Many Requests"
# Yahoo's chart error envelope, as yfinance reads it (history.py: data["chart"]["error"]
# ["description"]); the 404 text is the one quoted in every "possibly delisted" issue.
NOT_FOUND_CHART = {
    "chart": {
        "result": None,
        "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"},
    }
}


# quoteSummary's 404 (yfinance quote.py reads result["quoteSummary"]["error"]).
def not_found_quote(symbol: str) -> dict[str, Any]:
    return {
        "quoteSummary": {
            "result": None,
            "error": {"code": "Not Found", "description": f"Quote not found for symbol: {symbol}"},
        }
    }


# A JSON 500 from the chart endpoint (yfinance issue #2721: v8/finance/chart answering 500 in
# the same error envelope); yfinance turns it into YFPricesMissingError.
SERVER_ERROR_CHART = {
    "chart": {
        "result": None,
        "error": {"code": "Internal Server Error", "description": "Internal Server Error"},
    }
}
# Yahoo's HTML 500 page (quoted in gadicc/yahoo-finance2 issue #967); yfinance's .json() on it
# raises JSONDecodeError.
SERVER_ERROR_HTML = """<!doctype html public "-//W3C//DTD HTML 4.01//EN" "http://www.w3.org/TR/html4/strict.dtd">
<html>
<head>
    <title>Yahoo! - Error report</title>
</head>
<body>
<div id="doc">
    <div id="bd">
        <h1>HTTP Status 500 - Internal Server Error</h1>
    </div>
</div>
</body>
</html>
"""
# guce.yahoo.com/consent outside the EU: a page without the consent form (yfinance data.py
# then finds no csrfToken and gives the 'csrf' strategy up).
CONSENT_PAGE = "<html><head><title>Yahoo</title></head><body>No consent needed</body></html>"


def session_open(day: dt.date) -> int:
    """A daily bar's timestamp: the session's open, 09:15 IST, in Unix seconds (Yahoo dates
    NSE daily bars at the open; gmtoffset 19800)."""
    return int(dt.datetime.combine(day, dt.time(9, 15), tzinfo=IST).timestamp())


def price_of(symbol: str, day: dt.date) -> tuple[float, float, float, float, float, int]:
    """Deterministic (open, high, low, close, adjclose, volume) for a symbol's day."""
    seed = int(hashlib.sha256(symbol.encode()).hexdigest()[:8], 16)
    base = 100 + seed % 900
    n = day.toordinal()
    close = base * (1 + 0.2 * math.sin(n / 37 + seed % 7) + 0.05 * math.sin(n / 5))
    open_ = close * (1 + 0.01 * math.sin(n * 1.3))
    high = max(open_, close) * 1.012
    low = min(open_, close) * 0.988
    volume = 100_000 + (seed + n * 7919) % 900_000
    # Yahoo's prices are float32 values printed as doubles (e.g. 3412.60009765625)
    f32 = [float(_float32(x)) for x in (open_, high, low, close)]
    return f32[0], f32[1], f32[2], f32[3], f32[3], volume


def _float32(x: float) -> float:
    import struct

    return struct.unpack("f", struct.pack("f", x))[0]


@dataclass
class Wire:
    """The loopback server and what it has been asked."""

    scenario: dict[str, Any] = field(default_factory=dict)
    known: set[str] | None = None
    requests: list[tuple[str, str, dict[str, list[str]]]] = field(default_factory=list)
    times: list[float] = field(default_factory=list)  # time.monotonic() of each request

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        wire = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                wire._answer(self, "GET")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                wire._answer(self, "POST")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- what was asked ---------------------------------------------------------------

    def count(self, host: str | None = None, path_prefix: str = "") -> int:
        with self.lock:
            return sum(
                1
                for h, p, _ in self.requests
                if (host is None or h == host) and p.startswith(path_prefix)
            )

    def charts(self, symbol: str | None = None) -> list[dict[str, list[str]]]:
        with self.lock:
            return [
                q
                for h, p, q in self.requests
                if p.startswith("/v8/finance/chart/")
                and (symbol is None or unquote(p.rsplit("/", 1)[1]) == symbol)
            ]

    def reset(self) -> None:
        with self.lock:
            self.requests.clear()
            self.times.clear()

    # --- answering ------------------------------------------------------------------

    def _answer(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(handler.path)
        host, _, path = parts.path.lstrip("/").partition("/")
        path = "/" + path
        query = parse_qs(parts.query)
        with self.lock:
            self.requests.append((host, path, query))
            self.times.append(time.monotonic())
        status, content_type, body, headers = self._route(host, path, query)
        data = body.encode() if isinstance(body, str) else body
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in headers:
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)

    def _route(
        self, host: str, path: str, query: dict[str, list[str]]
    ) -> tuple[int, str, str, list[tuple[str, str]]]:
        sc = self.scenario
        if sc.get("rate_limited"):
            # Yahoo's edge answers 429 to every host once it throttles an address.
            return 429, "text/html", TOO_MANY, []
        if host == "fc.yahoo.com":
            return 404, "text/html", "<html>404 Not Found</html>", [("Set-Cookie", COOKIE_HEADER)]
        if path == "/v1/test/getcrumb":
            return 200, "text/plain;charset=utf-8", CRUMB, []
        if host == "guce.yahoo.com" or host == "consent.yahoo.com":
            return 200, "text/html", CONSENT_PAGE, []
        kind = sc.get("error_500")
        if kind is not None and host.startswith("query") and "/finance/" in path:
            # an outage of Yahoo's API servers: chart, quoteSummary and v7 quote alike
            if kind == "json":
                return 500, "application/json", json.dumps(SERVER_ERROR_CHART), []
            return 500, "text/html;charset=utf-8", SERVER_ERROR_HTML, []
        if path.startswith("/v10/finance/quoteSummary/"):
            symbol = unquote(path.rsplit("/", 1)[1])
            if self._unknown(symbol):
                return 404, "application/json", json.dumps(not_found_quote(symbol)), []
            return 200, "application/json", json.dumps(self._quote(symbol)), []
        if path.startswith("/v8/finance/chart/"):
            symbol = unquote(path.rsplit("/", 1)[1])
            if self._unknown(symbol):
                return 404, "application/json", json.dumps(NOT_FOUND_CHART), []
            return 200, "application/json", json.dumps(self.chart(symbol, query)), []
        return 404, "text/html", "<html>404 Not Found</html>", []

    def _unknown(self, symbol: str) -> bool:
        if self.known is not None:
            return symbol not in self.known
        return symbol.startswith("NOPE")

    def last_session(self) -> dt.date:
        """The newest session Yahoo has a bar for: ``scenario["end"]``, else today (IST) once
        the market has opened (a live bar, as Yahoo sends during the session), else the
        weekday before."""
        if "end" in self.scenario:
            return dt.date.fromisoformat(self.scenario["end"])
        now = dt.datetime.now(IST)
        day = now.date() if now.time() >= dt.time(9, 15) else now.date() - dt.timedelta(days=1)
        while day.weekday() >= 5:
            day -= dt.timedelta(days=1)
        return day

    def sessions(self, first: dt.date, last: dt.date) -> Iterator[dt.date]:
        day = first
        while day <= last:
            if day.weekday() < 5:
                yield day
            day += dt.timedelta(days=1)

    def chart(self, symbol: str, query: dict[str, list[str]]) -> dict[str, Any]:
        """A v8 chart answer: meta (Asia/Kolkata, gmtoffset 19800, validRanges), timestamps
        at 09:15 IST, float prices, adjclose and events, the shape of a real ``TCS.NS``
        answer (yfinance scrapers/history.py reads exactly these keys)."""
        last = self.last_session()
        if "period1" in query:
            first_ts = int(query["period1"][0])
            end_ts = int(query["period2"][0]) if "period2" in query else 2**40
            days = [
                d
                for d in self.sessions(last - dt.timedelta(days=800), last)
                if first_ts <= session_open(d) < end_ts
            ]
        else:
            span = query.get("range", ["1mo"])[0]
            back = {"1d": 0, "5d": 6, "1mo": 31, "1y": 366, "2y": 731, "5y": 1827}.get(span, 731)
            days = list(self.sessions(last - dt.timedelta(days=back), last))
            if span == "1d":
                days = days[-1:]
        rows = [price_of(symbol, d) for d in days]
        zero_open = self.scenario.get("zero_open", {}).get(symbol)
        opens = [r[0] for r in rows]
        if zero_open is not None:
            for i, d in enumerate(days):
                if d.isoformat() == zero_open:
                    opens[i] = 0.0  # Yahoo sends these: a zero Open on one daily bar
        events: dict[str, Any] = {}
        dividend = self.scenario.get("dividend", {}).get(symbol)
        if dividend is not None and dividend["date"] in {d.isoformat() for d in days}:
            ts = session_open(dt.date.fromisoformat(dividend["date"]))
            events["dividends"] = {str(ts): {"amount": dividend["amount"], "date": ts}}
        stamps = [session_open(d) for d in days]
        regular_start = session_open(last)
        meta = {
            "currency": "INR",
            "symbol": symbol,
            "exchangeName": "NSI",
            "fullExchangeName": "NSE",
            "instrumentType": "EQUITY",
            "firstTradeDate": 820467900,
            "regularMarketTime": regular_start + 22500,
            "hasPrePostMarketData": False,
            "gmtoffset": 19800,
            "timezone": "IST",
            "exchangeTimezoneName": "Asia/Kolkata",
            "regularMarketPrice": rows[-1][3] if rows else None,
            "chartPreviousClose": rows[0][3] if rows else None,
            "priceHint": 2,
            "currentTradingPeriod": {
                "pre": {"timezone": "IST", "start": regular_start, "end": regular_start,
                        "gmtoffset": 19800},
                "regular": {"timezone": "IST", "start": regular_start,
                            "end": regular_start + 22500, "gmtoffset": 19800},
                "post": {"timezone": "IST", "start": regular_start + 22500,
                         "end": regular_start + 22500, "gmtoffset": 19800},
            },
            "dataGranularity": "1d",
            "range": query.get("range", [""])[0],
            "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd",
                            "max"],
        }  # fmt: skip
        result: dict[str, Any] = {
            "meta": meta,
            "timestamp": stamps,
            "indicators": {
                "quote": [
                    {
                        "open": opens,
                        "high": [r[1] for r in rows],
                        "low": [r[2] for r in rows],
                        "close": [r[3] for r in rows],
                        "volume": [r[5] for r in rows],
                    }
                ],
                "adjclose": [{"adjclose": [self.adjclose(symbol, d, r[4]) for d, r in
                                           zip(days, rows, strict=True)]}],
            },
        }  # fmt: skip
        if events:
            result["events"] = events
        if not rows:
            del result["timestamp"]
            result["indicators"] = {"quote": [{}], "adjclose": [{}]}
        return {"chart": {"result": [result], "error": None}}

    def adjclose(self, symbol: str, day: dt.date, close: float) -> float:
        """Yahoo's adjusted close: before a dividend's ex-date, the close times
        (1 - amount / previous close)."""
        dividend = self.scenario.get("dividend", {}).get(symbol)
        if dividend is None or day >= dt.date.fromisoformat(dividend["date"]):
            return close
        return float(_float32(close * (1 - dividend["amount"] / 1000.0)))

    def _quote(self, symbol: str) -> dict[str, Any]:
        return {
            "quoteSummary": {
                "result": [{"quoteType": {"exchangeTimezoneName": "Asia/Kolkata",
                                          "symbol": symbol}}],
                "error": None,
            }
        }  # fmt: skip


class Blackhole:
    """A loopback port that completes TCP connections (the kernel's backlog) and never
    answers: packets into a black hole, no refusal."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4096)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def close(self) -> None:
        self.sock.close()


# --- the client side: curl_cffi sends every request to the stand-in -------------------------


class WireViolation(AssertionError):
    """A request went, or could have gone, somewhere other than the loopback stand-in."""


def install_client(base_url: str) -> None:
    """Send every curl_cffi request of this process to ``base_url`` (the loopback stand-in):
    the real libcurl does the HTTP, to an IP literal, with no proxy and no name to resolve."""
    from curl_cffi.requests import Session

    if urlsplit(base_url).hostname != "127.0.0.1":
        raise WireViolation(f"the stand-in must be on the loopback, not {base_url}")
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        os.environ.pop(var, None)
    if getattr(Session.request, "_wire", None) is not None:
        Session.request._wire["base"] = base_url  # type: ignore[attr-defined]
        return
    real_request = Session.request
    state = {"base": base_url}

    def request(self: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(url)
        if parts.hostname is None or not parts.hostname.endswith("yahoo.com"):
            raise WireViolation(f"a request outside Yahoo: {url}")
        target = f"{state['base']}/{parts.hostname}{parts.path or '/'}"
        if parts.query:
            target += f"?{parts.query}"
        kwargs["proxies"] = {"http": "", "https": ""}  # never a proxy: straight to 127.0.0.1
        response = real_request(self, method, target, *args, **kwargs)
        if response.primary_ip != "127.0.0.1":  # what libcurl itself connected to
            raise WireViolation(f"curl connected to {response.primary_ip!r} for {url}")
        if parts.hostname == "fc.yahoo.com":
            _keep_as_yahoos(self, response)
        return response

    request._wire = state  # type: ignore[attr-defined]
    Session.request = request  # type: ignore[method-assign]

    def no_lookup(*args: Any, **kwargs: Any) -> Any:
        raise WireViolation(f"a DNS lookup during a wire test: {args[:2]}")

    socket.getaddrinfo = no_lookup  # type: ignore[assignment]
    socket.gethostbyname = no_lookup  # type: ignore[assignment]


def _keep_as_yahoos(session: Any, response: Any) -> None:
    """File fc.yahoo.com's cookie under .yahoo.com, where the real host would have set it
    (the stand-in's answer came from 127.0.0.1): yfinance keeps a cookie only for a Yahoo
    domain, in its persistent cookie cache, and fetches it again on every call otherwise."""
    from http.cookiejar import Cookie

    jar = getattr(session.cookies, "jar", session.cookies)
    for name, value in response.cookies.items():
        jar.set_cookie(
            Cookie(
                0, name, value, None, False, ".yahoo.com", True, True, "/", True, True,
                int(time.time()) + 31_557_600, False, None, None, {},
            )
        )  # fmt: skip


@contextmanager
def wire_client(base_url: str) -> Iterator[None]:
    """``install_client`` for the length of a block (in-process tests)."""
    from curl_cffi.requests import Session

    saved = (Session.request, socket.getaddrinfo, socket.gethostbyname)
    install_client(base_url)
    try:
        yield
    finally:
        Session.request, socket.getaddrinfo, socket.gethostbyname = saved  # type: ignore[method-assign]


def reset_yfinance() -> None:
    """Forget what yfinance keeps per process (its singleton session with cookie and crumb,
    its lru-cached timezone probes, its quoteSummary fallback counter), as a new process
    would start."""
    import yfinance.base
    import yfinance.cache
    import yfinance.data

    # yfinance fixes its cache folder when imported: point it at this test's home
    yfinance.cache.set_cache_location(os.path.join(os.environ["HOME"], ".cache", "py-yfinance"))
    yfinance.cache._TzCacheManager._tz_cache = None  # type: ignore[attr-defined]
    yfinance.cache._CookieCacheManager._Cookie_cache = None  # type: ignore[attr-defined]

    yfinance.data.YfData._instances.clear()  # type: ignore[attr-defined]
    yfinance.data.YfData.cache_get.cache_clear()
    yfinance.base._tz_info_fetch_ctr = 0  # type: ignore[attr-defined]
