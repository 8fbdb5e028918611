"""``stockscan analyze``: run one job over the tickers given."""

from __future__ import annotations

from typing import Annotated

import typer

from stockscan.cli.common import PlanOptions, app, handle_errors, run_job
from stockscan.cli.options import (
    BandsOption,
    CapitalOption,
    DataDirOption,
    DbOption,
    ExchangeOption,
    FetchWorkersOption,
    JsonOption,
    KeepPartialOption,
    MaxPositionOption,
    MaxRpsOption,
    QuietOption,
    RiskOption,
    ShortableOption,
    SidesChoice,
    SidesOption,
    SourceChoice,
    SourceOption,
)
from stockscan.position import DEFAULT_MAX_POSITION_PCT
from stockscan.request import DEFAULT_CAPITAL, DEFAULT_RISK_PCT


@app.command(
    epilog="Examples:\n\n"
    "  stockscan analyze --source demo TCS.NS INFY.NS\n\n"
    "  stockscan analyze RELIANCE.NS 'M&M.NS' --capital 500000 --risk-pct 0.5\n\n"
    "  stockscan analyze --source csv --data-dir ./prices HDFCBANK.NS --json"
)
@handle_errors
def analyze(
    tickers: Annotated[
        list[str],
        typer.Argument(
            help="Tickers, e.g. TCS.NS INFY.NS ^NSEI (case-insensitive).", show_default=False
        ),
    ],
    source: SourceOption = SourceChoice.yahoo,
    data_dir: DataDirOption = None,
    capital: CapitalOption = DEFAULT_CAPITAL,
    risk_pct: RiskOption = DEFAULT_RISK_PCT,
    sides: SidesOption = SidesChoice.long,
    shortable: ShortableOption = None,
    max_position_pct: MaxPositionOption = DEFAULT_MAX_POSITION_PCT,
    bands: BandsOption = None,
    exchange: ExchangeOption = None,
    keep_partial: KeepPartialOption = False,
    max_rps: MaxRpsOption = None,
    fetch_workers: FetchWorkersOption = None,
    json_output: JsonOption = False,
    quiet: QuietOption = False,
    db: DbOption = None,
) -> None:
    """Analyse stocks: score, verdict and trade plan for each, as one tracked job."""
    from stockscan import render
    from stockscan.sources import Tuning
    from stockscan.tickers import bare_note, default_exchange, normalise_all

    # Everything the user typed is checked before the database is opened: a bad ticker or
    # option writes nothing.
    suffix = default_exchange(exchange.value if exchange else None)
    symbols = normalise_all(tickers, suffix)
    if note := bare_note(symbols, suffix):
        render.note(note)
    run_job(
        symbols, source=source, data_dir=data_dir, capital=capital, risk_pct=risk_pct,
        keep_partial=keep_partial, tuning=Tuning(max_rps, fetch_workers),
        json_output=json_output, quiet=quiet, db=db,
        plan=PlanOptions(sides.value, shortable, max_position_pct, bands),
    )  # fmt: skip
