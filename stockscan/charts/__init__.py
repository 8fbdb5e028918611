"""Charts of a result's bars: in the terminal (plotext) and in the HTML scan report (matplotlib).

``bars`` finds the bars a result was computed from, from that result's own source only;
``terminal`` and ``report`` draw them. The drawing libraries are dependencies of stockscan,
imported only inside the functions that draw: a report with no chart to draw, and every other
command, never import them (and work where they are missing).
"""

from __future__ import annotations

import importlib
from types import ModuleType

from stockscan.errors import UsageError

INSTALL_HINT = "pip install 'stockscan[charts]'"


def require(module: str) -> ModuleType:
    """Import a charting library, or say in one line how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        top = module.split(".")[0]
        raise UsageError(f"charts need {top}, which is not installed: {INSTALL_HINT}") from None
