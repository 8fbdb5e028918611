"""``cron``: the crontab line for the nightly scan, with comments that explain it."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

from stockscan.errors import EXIT_CODES


def cron_exit_codes() -> list[str]:
    """The exit codes a scheduled scan can end with, as crontab comment lines (from
    stockscan.errors.EXIT_CODES)."""
    text = "Exit codes: " + ", ".join(f"{e.code} {e.cron}" for e in EXIT_CODES if e.cron) + "."
    return [f"# {line}" for line in textwrap.wrap(text, width=78)]


def cron_text(line: str, *, ist: dt.time, local: dt.datetime, log: Path) -> str:
    """The crontab ``line`` and what it does: when (in IST and here), what it prints, where
    it logs, and what its exit codes mean."""
    zone = local.tzname() or "local time"
    return "\n".join(
        [
            f"# stockscan: scan the watchlist on weekdays at {ist:%H:%M} IST ({local:%H:%M}"
            f" {zone} here), after the NSE close at 15:30 IST.",
            "# Fields: minute hour day-of-month month day-of-week(1-5 = Monday-Friday) command.",
            "# --quiet prints only the summary and failures (cron mails them, if mail is set up);",
            f"# every line also goes, time-stamped, to {log}.",
            *cron_exit_codes(),
            line,
        ]
    )
