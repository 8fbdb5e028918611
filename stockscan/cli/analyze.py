"""``stockscan analyze``: run one job over the tickers given."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from stockscan.cli.common import DbOption, JsonOption, app, database, db_path, handle_errors
from stockscan.jobs import DEFAULT_CAPITAL, DEFAULT_RISK_PCT, JobOutcome

if TYPE_CHECKING:
    from stockscan.render import JobReporter
    from stockscan.sources import Tuning


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
    )  # fmt: skip


def run_job(
    tickers: list[str],
    *,
    source: SourceChoice,
    data_dir: Path | None,
    capital: float,
    risk_pct: float,
    keep_partial: bool,
    tuning: Tuning,
    json_output: bool,
    quiet: bool,
    db: Path | None,
    skip_unchanged: bool = False,
    log_file: Path | None = None,
) -> None:
    """What analyze and scan share: build the request, run the job, show it, exit."""
    from stockscan import jobs
    from stockscan.sources import get_source

    request = jobs.JobRequest(
        tickers=tuple(tickers),
        source=source.value,
        capital=capital,
        risk_pct=risk_pct,
        data_dir=str(data_dir.resolve()) if data_dir else None,
        skip_unchanged=skip_unchanged,
        keep_partial=keep_partial,
    )
    # A usage error exits 2 before the database opens.
    get_source(request.source, data_dir, keep_partial=keep_partial, tuning=tuning)
    reporter = _reporter(json_output, quiet, request.source, log_file)
    try:
        with database(db) as conn:
            # The price cache lives in the job's database (stockscan.sources.cache).
            outcome = jobs.run(conn, db_path(db), request, reporter, tuning=tuning)
    finally:
        reporter.close()
    _finish(outcome, json_output, reporter)


def _reporter(
    json_output: bool, quiet: bool, source: str, log_file: Path | None = None
) -> JobReporter:
    from stockscan.render import JobReporter

    if json_output:
        mode = "quiet" if quiet else "json"
    elif quiet:
        mode = "quiet"
    else:
        from stockscan import render

        # A progress bar needs a terminal that can move the cursor (not TERM=dumb).
        live = render.stdout.is_terminal and not render.stdout.is_dumb_terminal
        mode = "live" if live else "plain"
    return JobReporter(mode, source, log_file)


def _finish(outcome: JobOutcome, json_output: bool, reporter: JobReporter) -> None:
    from stockscan import jobs, render

    # The job is done and recorded: output that fails from here on changes nothing of it
    # (stockscan.render.output; stockscan.cli.main reports it).
    # The reporter (render.py) takes plain dicts until it takes the store's rows (issue 16).
    job, stocks = dict(outcome.job), [dict(stock) for stock in outcome.stocks]
    reporter.job_context(job)
    if json_output:
        reporter.show(lambda: render.print_json(jobs.outcome_json(outcome)))
    else:
        reporter.summary(job, stocks)
    reporter.log_summary(job, stocks)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)
