"""The user's lists of stocks for the trade plan: which can be shorted, and their price bands.

``--shortable FILE``: one symbol a line (``RELIANCE``, ``RELIANCE.NS``, ``AAPL``). NSE's F&O list
works as it is: a CSV whose header has a ``SYMBOL`` column (``fo_mktlots.csv``) is read from that
column; a plain list from its first field. ``--bands FILE``: ``SYMBOL,BAND`` a line, the band in
percent, 2, 5, 10 or 20 (a ``%`` allowed), or ``none`` / ``No Band`` for a stock without a fixed
band (NSE's F&O stocks); a header naming ``SYMBOL`` and ``BAND`` columns is used wherever they
are, so NSE's security-wise price band file (``sec_list.csv``) works too.

In both: blank lines and lines starting with ``#`` are skipped; fields may be quoted. A bare
symbol is an NSE symbol or a bare ticker: ``RELIANCE`` matches ``RELIANCE.NS`` and ``RELIANCE``;
a symbol with a suffix matches only itself. A line that is not a ticker (or, in a band file, has
no valid band) is named in a warning (``FILE:LINE``) and left out; the rest is used. A file that
is missing or unreadable is a ``UsageError`` (exit 2).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from stockscan.errors import UsageError
from stockscan.position import BANDS, Band
from stockscan.tickers import is_bare, normalise

NO_BAND_WORDS = frozenset({"none", "no band", "noband", "-"})


def _lines(path: Path, option: str) -> list[str]:
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except FileNotFoundError:
        raise UsageError(f"{option} {path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"{option} {path}: is a directory, not a file") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"{option} {path}: not a text file (UTF-8): {exc.reason}") from None
    except OSError as exc:
        raise UsageError(f"{option} {path}: cannot read: {exc.strerror or exc}") from None


def _rows(
    path: Path, option: str, columns: tuple[str, ...]
) -> Iterator[tuple[int, list[str], dict[str, int]]]:
    """(line number, fields, column index by name) of every data line. The first line that
    names the first of ``columns`` is the header: it sets the columns and is not data."""
    index = {name: i for i, name in enumerate(columns)}
    header_seen = False
    for number, line in enumerate(_lines(path, option), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        fields = [field.strip().strip('"').strip() for field in text.split(",")]
        names = [field.upper() for field in fields]
        if columns[0] in names:
            if not header_seen:
                header_seen = True
                index = {name: names.index(name) for name in columns if name in names}
            continue  # a header (or a repeat of it) is not data
        yield number, fields, index


def _symbol(raw: str) -> str | None:
    try:
        return normalise(raw)
    except UsageError:
        return None


def _matches(symbol: str, tickers: Iterable[str]) -> list[str]:
    if is_bare(symbol):
        wanted = {symbol, f"{symbol}.NS"}
        return [t for t in tickers if t in wanted]
    return [t for t in tickers if t == symbol]


def _shown(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "…")


def read_shortable(path: Path, tickers: Iterable[str]) -> tuple[tuple[str, ...], list[str]]:
    """The ``tickers`` that ``path`` lists as shortable, and the warnings about its lines."""
    wanted = list(tickers)
    found: dict[str, None] = {}
    warnings = []
    for number, fields, index in _rows(path, "--shortable", ("SYMBOL",)):
        column = index.get("SYMBOL", 0)
        raw = fields[column] if column < len(fields) else ""
        symbol = _symbol(raw)
        if symbol is None:
            warnings.append(f"{path}:{number}: {_shown(raw)} is not a ticker; line left out")
            continue
        for ticker in _matches(symbol, wanted):
            found.setdefault(ticker, None)
    return tuple(found), warnings


def _band(raw: str) -> Band | None:
    text = raw.strip().lower()
    if text in NO_BAND_WORDS:
        return "none"
    try:
        value = float(text.removesuffix("%").strip())
    except ValueError:
        return None
    return int(value) if value in BANDS else None


def read_bands(
    path: Path, tickers: Iterable[str]
) -> tuple[tuple[tuple[str, Band], ...], list[str]]:
    """The price band of each of ``tickers`` that ``path`` lists, and the warnings about its
    lines. A ticker listed twice keeps its first band (the second line is warned about)."""
    wanted = list(tickers)
    found: dict[str, Band] = {}
    warnings = []
    for number, fields, index in _rows(path, "--bands", ("SYMBOL", "BAND")):
        symbol_at, band_at = index.get("SYMBOL", 0), index.get("BAND", 1)
        raw = fields[symbol_at] if symbol_at < len(fields) else ""
        symbol = _symbol(raw)
        if symbol is None:
            warnings.append(f"{path}:{number}: {_shown(raw)} is not a ticker; line left out")
            continue
        raw_band = fields[band_at] if band_at < len(fields) else ""
        band = _band(raw_band)
        if band is None:
            warnings.append(
                f"{path}:{number}: band {_shown(raw_band)} for {symbol} is not one of"
                f" {', '.join(map(str, BANDS))} or none; line left out"
            )
            continue
        for ticker in _matches(symbol, wanted):
            if ticker in found and found[ticker] != band:
                warnings.append(
                    f"{path}:{number}: {ticker} listed again with band {band};"
                    f" the first, {found[ticker]}, is kept"
                )
            found.setdefault(ticker, band)
    return tuple(found.items()), warnings
