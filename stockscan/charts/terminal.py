"""A candlestick chart of one result in the terminal, drawn by plotext (5.x: plotext 6 replaced
the module-level API this uses with a different one)."""

from __future__ import annotations

import numpy as np

from stockscan.charts import require
from stockscan.charts.bars import SMA_FAST, SMA_SLOW, ChartData
from stockscan.errors import UsageError

MIN_WIDTH = 60
MIN_HEIGHT = 15
MAX_HEIGHT = 40
LEVEL_COLOURS = {"entry": "blue", "stop": "red", "target": "green"}


def check_width(width: int) -> None:
    if width < MIN_WIDTH:
        raise UsageError(
            f"the terminal is {width} columns wide; the chart needs at least {MIN_WIDTH}"
            " (widen the window, or use `stockscan report` for an HTML chart)"
        )


def render(data: ChartData, *, width: int, height: int, colour: bool) -> str:
    """The chart as text ``width`` columns wide, with ANSI colours only when ``colour``."""
    check_width(width)
    plt = require("plotext")
    height = max(MIN_HEIGHT, min(height, MAX_HEIGHT))
    bars = data.bars
    dates = [str(day) for day in bars.dates]
    plt.clear_figure()
    plt.plotsize(width, height)
    plt.date_form("Y-m-d")
    plt.candlestick(
        dates,
        {
            "Open": bars.open.tolist(),
            "High": bars.high.tolist(),
            "Low": bars.low.tolist(),
            "Close": bars.close.tolist(),
        },
    )
    for label, series, line_colour in (
        (f"SMA {SMA_FAST}", data.sma_fast, "orange"),
        (f"SMA {SMA_SLOW}", data.sma_slow, "magenta"),
    ):
        defined = ~np.isnan(series)
        if defined.any():
            plt.plot(
                [day for day, ok in zip(dates, defined, strict=True) if ok],
                series[defined].tolist(),
                label=label,
                color=line_colour,
                marker="braille",
            )
    levels = data.levels()
    for name, value in levels:
        plt.hline(value, LEVEL_COLOURS[name])
    # Keep every level on the chart, even one far from the bars shown.
    prices = [float(bars.low.min()), float(bars.high.max()), *(value for _, value in levels)]
    low, high = min(prices), max(prices)
    pad = (high - low) * 0.03 or 1.0
    plt.ylim(low - pad, high + pad)
    plt.title(data.title)
    # No background colours: the chart sits on the terminal's own background, dark or light.
    plt.theme("clear")
    text: str = plt.build()
    if not colour:
        text = plt.uncolorize(text)
    plt.clear_figure()
    legend = "   ".join(
        f"{name} {value:.2f} ({LEVEL_COLOURS[name]} line)" if colour else f"{name} {value:.2f}"
        for name, value in levels
    )
    return f"{text}\n{legend or 'no trade plan'}\n"
