"""Price sources: demo determinism, CSV parsing, and Yahoo with yfinance replaced at its
boundary by frames shaped like the real ones (tz-aware index, NaN bars, raised errors)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stockscan.errors import SourceUnavailable, StockError, UsageError
from stockscan.sources import get_source
from stockscan.sources.demo import DemoSource, demo_bars
from stockscan.sources.yahoo import YahooSource, normalise_history
from tests.fakes import FakeMarket

# --- demo ------------------------------------------------------------------------------------


def test_demo_is_deterministic_and_old_bars_never_change() -> None:
    friday = DemoSource(today=dt.date(2026, 11, 28)).fetch("TCS.NS").bars  # a Saturday
    assert str(friday.dates[-1]) == "2026-11-27"
    assert len(friday) == 400
    later = demo_bars("TCS.NS", np.datetime64("2027-03-01"))
    i = int(np.searchsorted(later.dates, friday.dates[-1]))
    assert later.close[i] == friday.close[-1] and later.volume[i] == friday.volume[-1]
    assert not np.array_equal(demo_bars("INFY.NS", friday.dates[-1]).close, friday.close)
    assert (friday.high >= np.maximum(friday.open, friday.close)).all()
    assert (friday.low <= np.minimum(friday.open, friday.close)).all()
    assert (friday.low > 0).all() and (friday.volume > 0).all()
    weekdays = (friday.dates.astype("int64") - 4) % 7
    assert (weekdays < 5).all()


# --- csv -------------------------------------------------------------------------------------


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_csv_reads_any_case_and_order_and_ignores_extra_columns(tmp_path: Path) -> None:
    write(
        tmp_path / "A.NS.csv",
        "volume,CLOSE,Adj Close,high,Low,open,DATE\n"
        "900,11,11,12,9,10,2026-01-06\n"
        "1000,10.5,10.5,11,9.5,10,2026-01-05\n",
    )
    bars = get_source("csv", tmp_path).fetch("A.NS").bars
    assert [str(d) for d in bars.dates] == ["2026-01-05", "2026-01-06"]  # sorted
    assert bars.close.tolist() == [10.5, 11.0] and bars.volume.tolist() == [1000.0, 900.0]


@pytest.mark.parametrize(
    ("text", "kind", "where"),
    [
        ("Date,Open,High,Low,Close\n2026-01-05,1,1,1,1\n", "bad_data", ":1: header lacks Volume"),
        ("Date,Open,High,Low,Close,Volume\n2026-01-05,1,x,1,1,1\n", "bad_data", ":2: cannot parse"),
        ("Date,Open,High,Low,Close,Volume\n05/01/2026,1,1,1,1,1\n", "bad_data", ":2: cannot parse"),
        ("Date,Open,High,Low,Close,Volume\n", "no_data", "no rows"),
        ("", "no_data", "empty file"),
    ],
)
def test_csv_errors_name_the_file_and_line(
    tmp_path: Path, text: str, kind: str, where: str
) -> None:
    path = write(tmp_path / "A.NS.csv", text)
    with pytest.raises(StockError) as info:
        get_source("csv", tmp_path).fetch("A.NS")
    assert info.value.kind == kind
    assert str(path) in info.value.message and where in info.value.message


def test_csv_missing_file_and_missing_dir(tmp_path: Path) -> None:
    with pytest.raises(StockError, match="file not found"):
        get_source("csv", tmp_path).fetch("NOPE.NS")
    with pytest.raises(UsageError, match="--data-dir"):
        get_source("csv", None)
    with pytest.raises(UsageError, match="not a directory"):
        get_source("csv", tmp_path / "missing")


# --- yahoo -----------------------------------------------------------------------------------

IST = "Asia/Kolkata"


def history_frame(days: int = 300, end: str = "2026-11-27", tz: str = IST) -> pd.DataFrame:
    """The shape `yf.Ticker(t).history(auto_adjust=True)` returns: tz-aware local midnight
    index named Date, plain columns, Dividends and Stock Splits."""
    index = pd.bdate_range(end=end, periods=days, tz=tz, name="Date")
    close = np.linspace(100, 130, days)
    return pd.DataFrame(
        {
            "Open": close - 0.5,
            "High": close + 1,
            "Low": close - 1,
            "Close": close,
            "Volume": np.full(days, 1000, dtype="int64"),
            "Dividends": 0.0,
            "Stock Splits": 0.0,
        },
        index=index,
    )


def ist(y: int, m: int, d: int, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh - 5, mm, tzinfo=dt.UTC) - dt.timedelta(minutes=30)


def test_history_frame_becomes_market_dated_bars() -> None:
    bars = normalise_history(history_frame(), "TCS.NS", now=ist(2026, 11, 28, 10))
    assert str(bars.dates[-1]) == "2026-11-27" and len(bars) == 300
    assert bars.last_bar_complete


def test_todays_bar_is_dropped_while_the_market_may_still_move() -> None:
    frame = history_frame(end="2026-11-27")
    during = normalise_history(frame, "TCS.NS", now=ist(2026, 11, 27, 14))
    assert str(during.dates[-1]) == "2026-11-26"
    after = normalise_history(frame, "TCS.NS", now=ist(2026, 11, 27, 18))
    assert str(after.dates[-1]) == "2026-11-27"
    kept = normalise_history(frame, "TCS.NS", now=ist(2026, 11, 27, 14), keep_partial=True)
    assert str(kept.dates[-1]) == "2026-11-27" and not kept.last_bar_complete


def test_nan_bars_are_dropped_and_missing_volume_is_zero() -> None:
    frame = history_frame()
    frame.iloc[-1, frame.columns.get_loc("Close")] = np.nan  # pre-open bar
    frame["Volume"] = frame["Volume"].astype("float64")
    frame.iloc[-2, frame.columns.get_loc("Volume")] = np.nan
    bars = normalise_history(frame, "TCS.NS", now=ist(2026, 11, 28, 10))
    assert str(bars.dates[-1]) == "2026-11-26" and bars.volume[-1] == 0


def test_bad_frames_are_typed_errors() -> None:
    with pytest.raises(StockError) as empty:
        normalise_history(history_frame().iloc[0:0], "X.NS", now=ist(2026, 11, 28, 10))
    assert empty.value.kind == "no_data" and "possibly delisted" in empty.value.message
    multi = history_frame()
    multi.columns = pd.MultiIndex.from_product([multi.columns, ["X.NS"]])
    with pytest.raises(StockError) as info:
        normalise_history(multi, "X.NS", now=ist(2026, 11, 28, 10))
    assert info.value.kind == "bad_data"


@pytest.fixture
def market(monkeypatch: pytest.MonkeyPatch) -> FakeMarket:
    import yfinance

    fake = FakeMarket()
    monkeypatch.setattr(yfinance, "Ticker", fake)
    return fake


def source() -> YahooSource:
    return YahooSource(sleep=lambda s: None, now=lambda: ist(2026, 11, 28, 10))


def test_yahoo_asks_explicitly_and_shows_errors(market: FakeMarket) -> None:
    import yfinance

    market.frames["TCS.NS"] = history_frame()
    bars = source().fetch("TCS.NS").bars
    assert len(bars) == 300
    call = market.calls[0]
    assert call["auto_adjust"] is True and call["interval"] == "1d" and call["timeout"]
    assert yfinance.config.debug.hide_exceptions is False


def test_yahoo_retries_transient_failures(market: FakeMarket) -> None:
    from yfinance.exceptions import YFRateLimitError

    market.errors = [YFRateLimitError(), ConnectionError("reset")]
    market.frames["TCS.NS"] = history_frame()
    assert len(source().fetch("TCS.NS").bars) == 300
    assert len(market.calls) == 3


def test_yahoo_rate_limit_that_outlasts_retries_stops_the_run(market: FakeMarket) -> None:
    from yfinance.exceptions import YFRateLimitError

    market.errors = [YFRateLimitError() for _ in range(4)]
    with pytest.raises(SourceUnavailable, match="rate-limiting"):
        source().fetch("TCS.NS")


def test_yahoo_network_down_for_one_ticker_stops_the_run(market: FakeMarket) -> None:
    """A network failure that outlasts the retries is never a stock's failure (issue 15)."""
    yahoo = source()
    market.errors = [OSError("dns") for _ in range(8)]
    with pytest.raises(SourceUnavailable, match="network looks down") as stopped:
        yahoo.fetch("A.NS")
    assert isinstance(stopped.value.__cause__, StockError)
    assert stopped.value.__cause__.kind == "network"


def test_yahoo_unknown_symbol_is_not_retried(market: FakeMarket) -> None:
    from yfinance.exceptions import YFTzMissingError

    market.errors = [YFTzMissingError("NOPE.NS")]
    with pytest.raises(StockError) as info:
        source().fetch("NOPE.NS")
    assert info.value.kind == "invalid_symbol" and len(market.calls) == 1
