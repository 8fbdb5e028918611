"""``stockscan analyze``: run one job over the tickers given."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from stockscan.cli.common import DbOption, JsonOption, app, database, db_path, handle_errors
from stockscan.errors import UsageError
from stockscan.jobs import (
    DEFAULT_CAPITAL,
    DEFAULT_MAX_POSITION_PCT,
    DEFAULT_RISK_PCT,
    JobOutcome,
)

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
    sides: SidesOption = SidesChoice.long,
    shortable: ShortableOption = None,
    max_position_pct: MaxPositionOption = DEFAULT_MAX_POSITION_PCT,
    bands: BandsOption = None,
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
        plan=PlanOptions(sides, shortable, max_position_pct, bands),
    )  # fmt: skip


class PlanOptions:
    """What analyze and scan take for the plan: sides, shortable stocks, cap, price bands."""

    def __init__(
        self,
        sides: SidesChoice = SidesChoice.long,
        shortable: Path | None = None,
        max_position_pct: float = DEFAULT_MAX_POSITION_PCT,
        bands: Path | None = None,
    ) -> None:
        self.sides = sides
        self.shortable = shortable
        self.max_position_pct = max_position_pct
        self.bands = bands

    def request_fields(self, tickers: list[str]) -> dict[str, object]:
        """The plan's fields of the job request, the files read and checked (exit 2 on a bad
        option or file; a warning for each line left out)."""
        from stockscan import render
        from stockscan.symbol_files import read_bands, read_shortable

        if not 0 < self.max_position_pct <= 100:  # NaN too
            raise UsageError(
                f"--max-position-pct {self.max_position_pct:g}: must be above 0 and at most 100"
            )
        if self.shortable is not None and self.sides != SidesChoice.both:
            raise UsageError("--shortable needs --sides both (long-only jobs never short)")
        if self.sides == SidesChoice.both and self.shortable is None:
            raise UsageError(
                "--sides both needs --shortable FILE: the stocks that can be shorted"
                " (for NSE, the F&O list)"
            )
        fields: dict[str, object] = {
            "sides": self.sides.value,
            "max_position_pct": self.max_position_pct,
        }
        warnings: list[str] = []
        if self.shortable is not None:
            fields["shortable"], found = read_shortable(self.shortable, tickers)
            warnings += found
        if self.bands is not None:
            fields["bands"], found = read_bands(self.bands, tickers)
            warnings += found
        for warning in warnings:
            render.warning(warning)
        return fields


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
    plan: PlanOptions | None = None,
) -> None:
    """What analyze and scan share: build the request, run the job, show it, exit."""
    from stockscan import jobs
    from stockscan.sources import get_source

    plan_fields = (plan or PlanOptions()).request_fields(tickers)
    request = jobs.JobRequest(
        tickers=tuple(tickers),
        source=source.value,
        capital=capital,
        risk_pct=risk_pct,
        data_dir=str(data_dir.resolve()) if data_dir else None,
        skip_unchanged=skip_unchanged,
        keep_partial=keep_partial,
        **plan_fields,  # type: ignore[arg-type]
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
    reporter.job_context(outcome.job)
    if json_output:
        reporter.show(lambda: render.print_json(jobs.outcome_json(outcome)))
    else:
        reporter.summary(outcome.job, outcome.stocks)
    reporter.log_summary(outcome.job, outcome.stocks)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)
