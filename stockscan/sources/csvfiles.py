"""``--source csv``: daily bars from ``DIR/<TICKER>.csv`` (broker exports, offline use).

Columns Date, Open, High, Low, Close, Volume in any case and order; other columns are ignored.
Dates are ISO (YYYY-MM-DD, optionally with a time, which is dropped). Rows are sorted by date
here; duplicate dates and bad prices are left for the engine's validation to reject.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterable
from pathlib import Path
from typing import Final

import numpy as np

from stockscan.analysis.model import Bars
from stockscan.errors import StockError
from stockscan.sources.base import Fetched, PriceSource, Provenance

REQUIRED = ("date", "open", "high", "low", "close", "volume")


class CsvSource(PriceSource):
    name: Final = "csv"

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir

    def path_for(self, ticker: str) -> Path:
        return self.data_dir / f"{ticker}.csv"

    def fetch(self, ticker: str) -> Fetched:
        return Fetched(self.read(ticker), Provenance.read_now())

    def read(self, ticker: str) -> Bars:
        """The bars of ``DIR/<TICKER>.csv`` (what a chart redraws, fetching nothing)."""
        path = self.path_for(ticker)
        try:
            handle = path.open(newline="", encoding="utf-8-sig")
        except FileNotFoundError:
            raise StockError("no_data", f"{path}: file not found") from None
        except OSError as exc:
            raise StockError("no_data", f"{path}: {exc.strerror or exc}") from None
        with handle:
            return parse_csv(handle, str(path))


def parse_csv(lines: Iterable[str], where: str) -> Bars:
    reader = csv.reader(lines)
    try:
        header = next(reader)
    except StopIteration:
        raise StockError("no_data", f"{where}: empty file") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise StockError("bad_data", f"{where}:1: {exc}") from None
    names = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED if c not in names]
    if missing:
        raise StockError(
            "bad_data",
            f"{where}:1: header lacks {', '.join(c.capitalize() for c in missing)}"
            f" (has {', '.join(header) or 'nothing'})",
        )
    index = [names.index(c) for c in REQUIRED]
    rows: list[tuple[dt.date, float, float, float, float, float]] = []
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            try:
                cells = [row[i].strip() for i in index]
                date = dt.date.fromisoformat(cells[0][:10])
                values = [float(c) if c else float("nan") for c in cells[1:]]
            except (IndexError, ValueError) as exc:
                raise StockError(
                    "bad_data", f"{where}:{line}: cannot parse {row!r}: {exc}"
                ) from None
            rows.append((date, values[0], values[1], values[2], values[3], values[4]))
    except (csv.Error, UnicodeDecodeError) as exc:
        raise StockError("bad_data", f"{where}:{reader.line_num}: {exc}") from None
    if not rows:
        raise StockError("no_data", f"{where}: no rows after the header")
    rows.sort(key=lambda r: r[0])
    columns = list(zip(*rows, strict=True))
    volume = np.asarray(columns[5], dtype="float64")
    return Bars(
        dates=np.asarray([d.isoformat() for d in columns[0]], dtype="datetime64[D]"),
        open=np.asarray(columns[1], dtype="float64"),
        high=np.asarray(columns[2], dtype="float64"),
        low=np.asarray(columns[3], dtype="float64"),
        close=np.asarray(columns[4], dtype="float64"),
        volume=np.nan_to_num(volume, nan=0.0),
    )
