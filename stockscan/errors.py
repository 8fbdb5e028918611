"""The exception hierarchy of the core.

The core raises these; only the CLI turns them into ``Error: …`` on stderr and an exit code
(``stockscan.cli``). Per-stock failures (``StockError``) never end a job: the job loop records
their ``kind`` and message on the stock's detail row and goes on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

# Exit codes: the contract. EXIT_CODES below says what each means, once: `stockscan --help`
# and the comment `stockscan cron` prints are made from it, and a test holds the README's
# table to it.
EXIT_OK = 0
EXIT_SOME_FAILED = 1
EXIT_USAGE = 2
EXIT_ALREADY_RUNNING = 3
EXIT_NOTHING_ANALYSED = 4
EXIT_DATABASE = 5
EXIT_OUTPUT_FAILED = 74  # stdout or the log file could not be written; the work is done
EXIT_SOURCE_UNAVAILABLE = 75
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class ExitCode:
    """What one exit code means: ``meaning`` as `stockscan --help` says it, ``readme`` where
    the README's table says more, ``cron`` in the crontab comment (None: not listed there,
    as the codes a scheduled scan does not meet)."""

    code: int
    meaning: str
    readme: str | None = None
    cron: str | None = None

    @property
    def documented(self) -> str:
        """The README's wording."""
        return self.readme or self.meaning


EXIT_CODES: tuple[ExitCode, ...] = (
    ExitCode(
        EXIT_OK,
        "every requested stock analysed",
        readme="every requested stock analysed (a demo result skipped in favour of a real one"
        " counts as analysed)",
        cron="all analysed",
    ),
    ExitCode(
        EXIT_SOME_FAILED,
        "the job finished, some stocks failed (each failure recorded)",
        cron="some failed",
    ),
    ExitCode(EXIT_USAGE, "usage error or invalid input; nothing written"),
    ExitCode(
        EXIT_ALREADY_RUNNING,
        "an identical job is already running; nothing written",
        cron="already running",
    ),
    ExitCode(EXIT_NOTHING_ANALYSED, "no stock could be analysed", cron="none analysed"),
    ExitCode(
        EXIT_DATABASE,
        "database problem (cannot open, not a database, corrupt, read-only, full, locked)",
        readme="database problem (cannot open, not a database, corrupt, read-only, full,"
        " locked too long)",
        cron="database problem",
    ),
    ExitCode(
        EXIT_OUTPUT_FAILED,
        "output could not be written (stdout or --log-file: disk full, I/O error); work done",
        readme="the output could not be written (stdout or `--log-file`: disk full, I/O"
        " error); the work is done and recorded (a job with failures keeps its 1 or 4)",
    ),
    ExitCode(
        EXIT_SOURCE_UNAVAILABLE,
        "data source unavailable or rate-limited; the job is left resumable",
        cron="Yahoo unavailable (the job resumes on the next run)",
    ),
    ExitCode(
        EXIT_INTERRUPTED, "interrupted (Ctrl-C, SIGTERM or SIGHUP); the job is left resumable"
    ),
)

ErrorKind = Literal[
    "rate_limited",  # transient: the provider throttled us
    "network",  # transient: DNS, connection, timeout
    "no_data",  # the source returned nothing for this ticker
    "invalid_symbol",  # the source says the symbol does not exist
    "insufficient_history",  # too few bars for the analysis
    "bad_data",  # NaN or non-positive prices, high < low, unsorted, duplicate or future dates
    "compute_error",  # the analysis itself failed on data that passed validation
    "source_error",  # the data source failed in a way we do not recognise
    "demo_over_real",  # skipped: a demo result may not replace a real one
    "attempts_exhausted",  # given up: too many attempts at this stock ended without success
]
TRANSIENT_KINDS: frozenset[str] = frozenset({"rate_limited", "network"})


class StockscanError(Exception):
    """Base of every expected error; ``exit_code`` is what the CLI exits with."""

    exit_code: ClassVar[int] = EXIT_SOME_FAILED


class UsageError(StockscanError):
    """Invalid input from the user (a bad ticker, option or id). Nothing is written."""

    exit_code = EXIT_USAGE


class JobAlreadyRunning(StockscanError):
    """An identical job is running in a live process. Nothing is written."""

    exit_code = EXIT_ALREADY_RUNNING

    def __init__(self, job_id: int, pid: int | None, host: str | None) -> None:
        self.job_id = job_id
        self.pid = pid
        self.host = host
        owner = f"pid {pid}" + (f" on {host}" if host else "") if pid else "another process"
        super().__init__(f"an identical job is already running: job {job_id} ({owner})")


class JobInterrupted(StockscanError):
    """Ctrl-C, SIGTERM or SIGHUP stopped the job; it is left resumable."""

    exit_code = EXIT_INTERRUPTED


class JobsRunning(StockscanError):
    """A live process is running a job; a long exclusive operation would stall it."""

    exit_code = EXIT_ALREADY_RUNNING


class DatabaseError(StockscanError):
    """The database is unusable: cannot open, not a database, corrupt, read-only, full, locked."""

    exit_code = EXIT_DATABASE


class SourceUnavailable(StockscanError):
    """The data source is down or rate-limiting us; the job is left resumable."""

    exit_code = EXIT_SOURCE_UNAVAILABLE


class StockError(StockscanError):
    """One stock could not be analysed. Recorded on its detail row; the job goes on."""

    def __init__(self, kind: ErrorKind, message: str) -> None:
        self.kind: ErrorKind = kind
        self.message = message
        super().__init__(f"{kind}: {message}")

    @property
    def transient(self) -> bool:
        return self.kind in TRANSIENT_KINDS
