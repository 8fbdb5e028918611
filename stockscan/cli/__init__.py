"""The command line: thin commands that parse, call the core, render and exit.

``app`` lives in ``stockscan.cli.app``; each command group has its own module.
"""

from __future__ import annotations

from stockscan.cli import analyze, db, jobs  # noqa: F401  (registers the commands)
from stockscan.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
