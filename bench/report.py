"""The HTML report's charts (issue 9): matplotlib PNGs, which the report uses, against plotly's
self-contained HTML, for the same 10 BUY-side charts of 120 demo bars each.

Each is measured in a fresh process (so the library's import is counted, as in a cron job),
best of ``--runs``: the seconds to draw the 10 charts, and the bytes of the page they make.
plotly is not a dependency of stockscan: its figures are printed only where it is installed.

Prints one JSON object. Usage: python bench/report.py [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from typing import Any

import numpy as np

from stockscan.analysis.indicators import sma
from stockscan.analysis.model import Bars
from stockscan.charts.bars import ChartData
from stockscan.sources.demo import demo_bars

CHARTS = 10
BARS = 120
END = np.datetime64("2026-11-27", "D")


def chart_inputs() -> list[ChartData]:
    """Ten BUY-side charts of demo bars, with a trade plan around the last close."""
    out = []
    for n in range(CHARTS):
        full = demo_bars(f"BENCH{n}.NS", END)
        shown = slice(len(full) - BARS, len(full))
        bars = Bars(full.dates[shown], full.open[shown], full.high[shown], full.low[shown],
                    full.close[shown], full.volume[shown])  # fmt: skip
        close = float(bars.close[-1])
        out.append(
            ChartData(
                ticker=f"BENCH{n}.NS",
                analysis_date=str(END),
                source="demo",
                bars=bars,
                sma_fast=sma(full.close, 20)[shown],
                sma_slow=sma(full.close, 50)[shown],
                score=70.0 - n,
                verdict="BUY",
                side="long",
                entry=close,
                stop=close * 0.95,
                target=close * 1.1,
            )  # fmt: skip
        )
    return out


def stock_row(data: ChartData) -> dict[str, Any]:
    return {
        "ticker": data.ticker, "status": "succeeded", "result_id": 1, "score": data.score,
        "verdict": data.verdict, "side": data.side, "close": float(data.bars.close[-1]),
        "entry": data.entry, "stop": data.stop, "target": data.target, "reward_risk": 2.0,
        "quantity": 10, "analysis_date": data.analysis_date, "analysis_source": data.source,
        "attempts": 1, "error_kind": None, "error_message": None, "note": None,
        "prev_date": None, "prev_verdict": None, "prev_side": None, "prev_stop": None,
        "prev_target": None,
    }  # fmt: skip


def run_matplotlib() -> dict[str, Any]:
    """The report's own code: PNGs, base64 in the page."""
    inputs = chart_inputs()
    started = time.perf_counter()
    from stockscan.charts.report import Report, candlestick_png, to_html

    pngs = [candlestick_png(data) for data in inputs]
    seconds = time.perf_counter() - started
    job = {"id": 1, "status": "succeeded", "source": "demo", "created_at": "", "finished_at": "",
           "succeeded": CHARTS, "failed": 0, "skipped": 0, "total": CHARTS}  # fmt: skip
    report = Report(
        job=job,
        stocks=[stock_row(data) for data in inputs],
        charts={data.ticker: png for data, png in zip(inputs, pngs, strict=True)},
    )
    page = to_html(report)
    return {
        "seconds": round(seconds, 3),
        "page_bytes": len(page.encode()),
        "chart_bytes_median": int(np.median([len(png) for png in pngs])),
        "needs_javascript": False,
    }


def run_plotly() -> dict[str, Any]:
    """The same charts as plotly figures in one self-contained page (plotly.js inline once)."""
    inputs = chart_inputs()
    started = time.perf_counter()
    import plotly
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    parts = []
    for index, data in enumerate(inputs):
        bars = data.bars
        dates = [str(day) for day in bars.dates]
        fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.8, 0.2])
        fig.add_trace(
            go.Candlestick(x=dates, open=bars.open, high=bars.high, low=bars.low,
                           close=bars.close, name="price"),
            row=1, col=1,
        )  # fmt: skip
        fig.add_trace(go.Scatter(x=dates, y=data.sma_fast, name="SMA 20"), row=1, col=1)
        fig.add_trace(go.Scatter(x=dates, y=data.sma_slow, name="SMA 50"), row=1, col=1)
        fig.add_trace(go.Bar(x=dates, y=bars.volume, name="volume"), row=2, col=1)
        for name, value in data.levels():
            fig.add_hline(y=value, annotation_text=name, line_dash="dash", row=1, col=1)
        fig.update_layout(title=data.title, width=960, height=480, xaxis_rangeslider_visible=False)
        parts.append(
            fig.to_html(full_html=False, include_plotlyjs="inline" if index == 0 else False)
        )
    page = "<!DOCTYPE html><html><body>" + "".join(parts) + "</body></html>"
    seconds = time.perf_counter() - started
    return {
        "seconds": round(seconds, 3),
        "page_bytes": len(page.encode()),
        "version": plotly.__version__,
        "needs_javascript": True,
    }


def in_fresh_process(name: str, runs: int) -> dict[str, Any] | None:
    best: dict[str, Any] | None = None
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, __file__, "--one", name], capture_output=True, text=True, check=False
        )
        if done.returncode != 0:
            if "No module named 'plotly'" in done.stderr:
                return None
            raise SystemExit(done.stderr)
        figures = json.loads(done.stdout)
        if best is None or figures["seconds"] < best["seconds"]:
            best = figures
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--one", choices=("matplotlib", "plotly"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        figures = run_matplotlib() if args.one == "matplotlib" else run_plotly()
        print(json.dumps(figures))
        return
    import matplotlib

    results: dict[str, Any] = {
        "benchmark": "report_charts",
        "charts": CHARTS,
        "bars_per_chart": BARS,
        "python": platform.python_version(),
        "matplotlib": {
            "version": matplotlib.__version__,
            **(in_fresh_process("matplotlib", args.runs) or {}),
        },
    }
    plotly_figures = in_fresh_process("plotly", args.runs)
    results["plotly"] = plotly_figures or "not installed (pip install plotly to compare)"
    print(json.dumps(results))


if __name__ == "__main__":
    main()
