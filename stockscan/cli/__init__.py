"""The command line: thin commands that parse, call the core, render and exit.

``app`` lives in ``stockscan.cli.app``; each command group has its own module.
"""

from __future__ import annotations

import signal

from stockscan.cli import (  # noqa: F401  (registers the commands)
    analyze,
    changes,
    db,
    jobs,
    report,
    results,
    scan,
    watchlist,
)
from stockscan.cli.app import app


def main() -> None:
    try:
        app()
    finally:
        # The command is over and its work committed: a Ctrl-C or SIGTERM landing while the
        # interpreter shuts down must not kill it before stdout is flushed, losing the
        # summary and turning a finished run into a "killed by signal" exit status.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)


__all__ = ["app", "main"]
