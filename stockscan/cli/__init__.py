"""The command line: thin commands that parse, call the core, render and exit.

``app`` lives in ``stockscan.cli.app``; each command group has its own module.
"""

from __future__ import annotations

from stockscan.cli import (  # noqa: F401  (registers the commands)
    analyze,
    changes,
    db,
    jobs,
    results,
    scan,
    watchlist,
)
from stockscan.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
