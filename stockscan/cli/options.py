"""The options and choices more than one command takes, each written once."""

from __future__ import annotations

import datetime as dt
import re
import shlex
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from stockscan.errors import UsageError

if TYPE_CHECKING:
    from stockscan.screens import Compiled, Sort

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        envvar="STOCKSCAN_DB",
        help="Database file (env STOCKSCAN_DB; default: in the user data directory, "
        "e.g. ~/.local/share/stockscan/stockscan.db).",
        show_envvar=False,
        # No dir_okay=False: a directory is a database problem (exit 5, stockscan.db.open_db),
        # not a usage error.
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
PruneDryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Say what would be deleted; change nothing.")
]


class SourceChoice(StrEnum):
    yahoo = "yahoo"
    demo = "demo"
    csv = "csv"


SourceOption = Annotated[
    SourceChoice,
    typer.Option(
        "--source",
        help="Where prices come from: yahoo (live, via yfinance), demo (synthetic, offline, "
        "labelled demo), csv (DIR/<TICKER>.csv). Never falls back from one to another.",
        case_sensitive=False,
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Folder of <TICKER>.csv files for --source csv.",
                 file_okay=False),
]  # fmt: skip
CapitalOption = Annotated[
    float, typer.Option("--capital", help="Capital for position sizing, in the stock's currency.")
]
RiskOption = Annotated[
    float, typer.Option("--risk-pct", help="Percent of capital risked per trade (entry to stop).")
]


class SidesChoice(StrEnum):
    long = "long"
    both = "both"


SidesOption = Annotated[
    SidesChoice,
    typer.Option(
        "--sides",
        help="Which sides get a plan: long (a SELL or STRONG_SELL says 'avoid / exit if held') "
        "or both (a short plan for the stocks --shortable lists; any other is not shortable).",
        case_sensitive=False,
    ),
]
ShortableOption = Annotated[
    Path | None,
    typer.Option(
        "--shortable",
        metavar="FILE",
        help="With --sides both: the stocks that can be shorted, one symbol a line (NSE's F&O "
        "list works as it is; RELIANCE matches RELIANCE.NS).",
        dir_okay=False,
        show_default=False,
    ),
]
MaxPositionOption = Annotated[
    float,
    typer.Option(
        "--max-position-pct",
        help="The most of the capital one position may take, in percent (above 0, at most 100).",
    ),
]
BandsOption = Annotated[
    Path | None,
    typer.Option(
        "--bands",
        metavar="FILE",
        help="Daily price bands, SYMBOL,BAND a line (BAND 2, 5, 10, 20 or none): a stop or "
        "target beyond the band is said so. Without it: band unknown, not checked.",
        dir_okay=False,
        show_default=False,
    ),
]
MaxRpsOption = Annotated[
    float | None,
    typer.Option(
        "--max-rps",
        help="yahoo: at most this many requests a second, retries included (default: "
        "$STOCKSCAN_YAHOO_MAX_RPS, else 2). Yahoo rate-limits fast clients.",
        show_default=False,
    ),
]
FetchWorkersOption = Annotated[
    int | None,
    typer.Option(
        "--fetch-workers",
        help="yahoo: downloads in flight at once, 1-16 (default: 4). The rate budget still holds.",
        show_default=False,
    ),
]
KeepPartialOption = Annotated[
    bool,
    typer.Option(
        "--keep-partial",
        help="yahoo: analyse today's bar while the market may still move it (the result is "
        "marked partial) instead of dropping it. Partial bars are never cached.",
    ),
]
QuietOption = Annotated[
    bool, typer.Option("--quiet", "-q", help="Print only the summary and failures.")
]


class ExchangeChoice(StrEnum):
    NSE = "NSE"
    BSE = "BSE"
    none = "none"  # stockscan.tickers.AS_IS


ExchangeOption = Annotated[
    ExchangeChoice | None,
    typer.Option(
        "--exchange",
        help="Append .NS (NSE) or .BO (BSE) to bare symbols: TCS becomes TCS.NS; none takes "
        "them as they are (US listings on Yahoo). Default: $STOCKSCAN_EXCHANGE, else as they "
        "are, with a note.",
        case_sensitive=False,
        show_default=False,
    ),
]


DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def date_option(name: str, help: str) -> Any:  # noqa: A002 - Typer's own word
    """The one market-date option (``--date``, ``--since``, ``--until``): ``DATE``, None when
    not given, as the parameter's default. The command checks it with ``parse_date``, after
    what comes before it on the line: not as Typer parses it, so that even a command called
    in-process (CliRunner) reports a bad date in the program's one error style."""
    return typer.Option(None, name, metavar="DATE", help=help, show_default=False)


def parse_date(option: str, raw: str | None) -> str | None:
    """A date option's value (``2026-11-27``, spaces around it allowed) as ISO text."""
    if raw is None:
        return None
    text = raw.strip()
    try:
        if DATE.fullmatch(text) is None:
            raise ValueError
        return dt.date.fromisoformat(text).isoformat()
    except ValueError:
        raise UsageError(f"{option} {raw!r}: expected a date like 2026-11-27") from None


WhereOption = Annotated[
    str | None,
    typer.Option(
        "--where",
        metavar="EXPR",
        help='Only results passing this screen, e.g. "close > sma_200 and rsi_14 < 40"'
        " (docs/screens.md).",
        show_default=False,
    ),
]


def parse_where(raw: str | None) -> Compiled | None:
    """A --where expression checked and compiled (UsageError, exit 2): before the database is
    opened, as every option is."""
    from stockscan.screens import compile_where

    return None if raw is None else compile_where(raw)


SortOption = Annotated[
    str | None,
    typer.Option(
        "--sort",
        metavar="FIELD[,FIELD...]",
        help="Order by these fields, '-' first for descending, e.g. -volume_ratio_20,rsi_14"
        " (default: best score first).",
        show_default=False,
    ),
]
LimitOption = Annotated[
    int | None,
    typer.Option("--limit", min=1, metavar="N", help="Only the first N.", show_default=False),
]


def parse_sort(raw: str | None) -> Sort | None:
    from stockscan.screens import compile_sort

    return None if raw is None else compile_sort(raw)


ScreenOption = Annotated[
    str | None,
    typer.Option(
        "--screen",
        metavar="NAME",
        help="Only results passing this saved screen (`stockscan screen list`), in its order"
        " unless --sort is given; with --where, both must pass.",
        show_default=False,
    ),
]
SCREEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def parse_screen_name(raw: str | None) -> str | None:
    if raw is not None and not SCREEN_NAME.fullmatch(raw):
        shown = repr(raw if len(raw) <= 30 else raw[:30] + "…")
        raise UsageError(
            f"screen name {shown}: expected 1-64 letters, digits, '_', '.' or '-',"
            " starting with a letter or digit"
        )
    return raw


@dataclass(frozen=True)
class Screening:
    """What a listing filters and orders by: --where and --screen together."""

    condition: tuple[str, tuple[Any, ...]] | None
    order: str | None
    text: str | None  # what an empty listing names


def screening(conn: Any, name: str | None, where: Compiled | None, sort: Sort | None) -> Screening:
    """Combine --where and a saved --screen (read from ``conn``); a saved screen that no
    longer compiles (a name this version does not know) is a usage error naming it."""
    from stockscan import store
    from stockscan.screens import compile_sort, compile_where

    parts = [] if where is None else [where]
    texts = [] if where is None else [f"--where {shlex.quote(where.text)}"]
    order = sort
    if name is not None:
        saved = store.get_screen(conn, name)
        if saved is None:
            known = ", ".join(s["name"] for s in store.list_screens(conn)) or "none saved"
            raise UsageError(f"--screen {name!r}: no such screen (screens: {known})")
        parts.append(compile_where(saved["expression"], f"screen {name}"))
        texts.append(f"--screen {name}")
        if order is None and saved["sort"]:
            order = compile_sort(saved["sort"], f"screen {name}: --sort")
    condition = None
    if parts:
        sql = " AND ".join(part.sql for part in parts)
        condition = (sql, tuple(p for part in parts for p in part.params))
    return Screening(condition, None if order is None else order.sql, " ".join(texts) or None)
