"""The analysis engine: indicators, score, verdict and trade plan for one ticker's daily bars.

Pure numpy maths, no I/O, no pandas or TA-Lib at run time. ``docs/scoring.md`` documents the
model; ``SCORING_VERSION`` names it and changes whenever a score could change.
"""

from stockscan.analysis.engine import analyze
from stockscan.analysis.indicators import compute
from stockscan.analysis.model import (
    INDICATOR_NAMES,
    VERDICTS,
    Analysis,
    Bars,
    Component,
    Side,
    TradePlan,
    Verdict,
)
from stockscan.analysis.plan import position_size
from stockscan.analysis.scoring import SCORING_VERSION
from stockscan.analysis.validation import MIN_BARS, validate

__all__ = [
    "INDICATOR_NAMES",
    "MIN_BARS",
    "SCORING_VERSION",
    "VERDICTS",
    "Analysis",
    "Bars",
    "Component",
    "Side",
    "TradePlan",
    "Verdict",
    "analyze",
    "compute",
    "position_size",
    "validate",
]
