"""--shortable and --bands files: what is read from them, what is warned about, what refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from stockscan.errors import UsageError
from stockscan.symbol_files import read_bands, read_shortable

TICKERS = ["RELIANCE.NS", "RELIANCE.BO", "TCS.NS", "M&M.NS", "AAPL", "INFY.NS"]


def test_a_plain_list_bare_symbols_are_nse(tmp_path: Path) -> None:
    path = tmp_path / "fo.txt"
    path.write_text("\ufeffRELIANCE\n\n# a comment\n  m&m  \nAAPL\nTCS.BO\n")
    shortable, warnings = read_shortable(path, TICKERS)
    # RELIANCE is NSE's symbol: RELIANCE.NS, not the BSE listing; TCS.BO is not TCS.NS.
    assert shortable == ("RELIANCE.NS", "M&M.NS", "AAPL")
    assert warnings == []


def test_nse_fo_list_as_it_is(tmp_path: Path) -> None:
    path = tmp_path / "fo_mktlots.csv"
    path.write_text(
        '"UNDERLYING","SYMBOL","DEC-26"\n"NIFTY 50","NIFTY","75"\n"Infosys Ltd","INFY","400"\n'
        '"Symbol header again","SYMBOL",""\n"Bad","TWO WORDS","1"\n"Short row"\n'
    )
    shortable, warnings = read_shortable(path, TICKERS)
    assert shortable == ("INFY.NS",)
    assert warnings == [
        f"{path}:5: 'TWO WORDS' is not a ticker; line left out",
        f"{path}:6: '' is not a ticker; line left out",
    ]


def test_bands(tmp_path: Path) -> None:
    path = tmp_path / "bands.csv"
    path.write_text(
        "Symbol,Series,Security Name,Band\nRELIANCE,EQ,Reliance,No Band\nTCS,EQ,TCS,5%\n"
        "INFY,EQ,Infosys,7\nM&M,EQ,Mahindra,20\nM&M,BE,Mahindra,10\n"
    )
    bands, warnings = read_bands(path, TICKERS)
    assert bands == (("RELIANCE.NS", "none"), ("TCS.NS", 5), ("M&M.NS", 20))
    assert warnings == [
        f"{path}:4: band '7' for INFY is not one of 2, 5, 10, 20 or none; line left out",
        f"{path}:6: M&M.NS listed again with band 10; the first, 20, is kept",
    ]
    plain = tmp_path / "plain.csv"
    plain.write_text("TCS,2\n")
    assert read_bands(plain, TICKERS) == ((("TCS.NS", 2),), [])


@pytest.mark.parametrize("kind", ["missing", "directory", "binary"])
def test_unreadable_files_are_usage_errors(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "list.txt"
    if kind == "directory":
        path.mkdir()
    elif kind == "binary":
        path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(UsageError, match=rf"--shortable {path}: "):
        read_shortable(path, TICKERS)
    with pytest.raises(UsageError, match=rf"--bands {path}: "):
        read_bands(path, TICKERS)
