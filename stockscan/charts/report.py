"""The HTML scan report: one self-contained file, made to be e-mailed by the nightly cron job.

Everything is inline (styles, and the charts as base64 PNG ``data:`` URIs), so the file opens
with no network; the page reads fully without JavaScript (mail clients strip scripts), and a
few lines of script only make the summary table sortable where scripts run. Every string from
the database is escaped.

The charts are matplotlib PNGs (Agg, through ``Figure`` so no pyplot state or GUI backend is
involved): candlesticks drawn as wicks (``vlines``) and bodies (one ``PolyCollection``), volume
under them, SMA-20/50, and the trade plan as horizontal lines. ``bench/report.py`` measures
why PNG rather than plotly: a page a twentieth of the size, and charts that need no script.
"""

from __future__ import annotations

import base64
import html
import io
import sqlite3
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from stockscan import __version__, clock, store, vocab
from stockscan.changes import events
from stockscan.charts import require
from stockscan.charts.bars import (
    SMA_FAST,
    SMA_SLOW,
    ChartData,
    ChartUnavailable,
    chart_data,
    data_dir_of,
)
from stockscan.render import local_time

BUY_SIDE = vocab.BUY_SIDE
CHART_BARS = 120
LEVEL_STYLE = {"entry": ("#1f5fbf", "--"), "stop": ("#c0392b", "--"), "target": ("#1e8449", "--")}
UP, DOWN = "#26a269", "#c01c28"


@dataclass
class Report:
    """What the report shows, gathered in one read; ``to_html()`` writes the page."""

    job: store.Job
    stocks: list[dict[str, Any]]
    charts: dict[str, bytes | str] = field(default_factory=dict)  # ticker → PNG, or the reason
    generated_at: str = ""


# --- gathering -------------------------------------------------------------------------------


def gather(
    conn: sqlite3.Connection,
    job: store.Job,
    *,
    chart_bars: int = CHART_BARS,
    where: store.Condition | None = None,
) -> Report:
    """The job's stocks and a chart (or the reason there is none) for each BUY-side result.
    ``where``: a screen; only the stocks whose result passes it, and those with no result (a
    failure or a skip stays in the report whatever the screen)."""
    stocks = store.report_stocks(conn, job["id"])
    if where is not None:
        passing = store.job_passing(conn, job["id"], where)
        stocks = [s for s in stocks if s["result_id"] is None or s["result_id"] in passing]
    report = Report(
        job=job,
        stocks=stocks,
        generated_at=clock.now_iso("seconds"),
    )
    job_dir = data_dir_of(job.get("params")) if job.get("source") == "csv" else None
    for stock in stocks:
        if stock["result_id"] is None or stock["verdict"] not in BUY_SIDE:
            continue
        try:
            data = chart_data(
                conn,
                stock,
                count=chart_bars,
                data_dir=data_dir_of(stock["result_job_params"]) or job_dir,
            )
        except ChartUnavailable as exc:
            report.charts[stock["ticker"]] = str(exc)
            continue
        report.charts[stock["ticker"]] = candlestick_png(data)
    return report


# --- the chart -------------------------------------------------------------------------------


def candlestick_png(data: ChartData, *, width_px: int = 960, height_px: int = 480) -> bytes:
    """A PNG of candlesticks with volume, SMA-20/50 and the trade plan."""
    require("matplotlib")
    from matplotlib.figure import Figure
    from matplotlib.ticker import EngFormatter, MaxNLocator

    bars = data.bars
    x = np.arange(len(bars))  # trading days side by side: no gaps for weekends and holidays
    # Empty room right of the last bar for the trade plan's labels, clear of the candles.
    margin = max(10, len(bars) // 7)
    rising = bars.close >= bars.open
    colours = np.where(rising, UP, DOWN)
    dpi = 96
    # A fixed layout, and each series of rectangles as one collection rather than a patch per
    # bar: together a third of the drawing time of constrained layout and Axes.bar.
    fig = Figure(figsize=(width_px / dpi, height_px / dpi), dpi=dpi)
    fig.subplots_adjust(left=0.075, right=0.985, top=0.93, bottom=0.07, hspace=0.08)
    price, volume = fig.subplots(
        2, 1, sharex=True, gridspec_kw={"height_ratios": [4, 1]}, squeeze=True
    )
    price.vlines(x, bars.low, bars.high, colors=colours, linewidth=0.8)
    # A doji (open = close) still shows a thin body.
    flat = (bars.high - bars.low) * 0.01
    bottom = np.minimum(bars.open, bars.close)
    top = np.maximum(np.maximum(bars.open, bars.close), bottom + flat)
    price.add_collection(_boxes(x, bottom, top, colours), autolim=True)
    price.margins(y=0.06)  # room above and below for the trade plan's labels
    price.autoscale_view()
    price.plot(x, data.sma_fast, color="#e67e22", linewidth=1.2, label=f"SMA {SMA_FAST}")
    price.plot(x, data.sma_slow, color="#8e44ad", linewidth=1.2, label=f"SMA {SMA_SLOW}")
    for name, value in data.levels():
        colour, style = LEVEL_STYLE[name]
        price.axhline(value, color=colour, linestyle=style, linewidth=1.0)
        price.annotate(
            f"{name} {value:.2f}",
            xy=(len(bars) + margin - 0.5, value),
            xytext=(0, 2),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=8,
            color=colour,
        )
    price.set_title(data.title, fontsize=11, loc="left")
    price.legend(loc="upper left", fontsize=8, frameon=False)
    price.grid(True, color="#eeeeee", linewidth=0.6)
    volume.add_collection(_boxes(x, np.zeros(len(bars)), bars.volume, colours), autolim=True)
    volume.set_ylim(0, float(bars.volume.max()) * 1.05 or 1.0)
    volume.set_ylabel("volume", fontsize=8)
    volume.grid(True, color="#eeeeee", linewidth=0.6)
    volume.yaxis.set_major_formatter(EngFormatter(sep=""))
    volume.yaxis.set_major_locator(MaxNLocator(3))
    ticks = np.linspace(0, len(bars) - 1, num=min(6, len(bars)), dtype=int)
    volume.set_xticks(ticks, [str(bars.dates[i]) for i in ticks], fontsize=8)
    price.tick_params(labelsize=8)
    volume.tick_params(labelsize=8)
    volume.set_xlim(-1, len(bars) + margin)
    return _png(fig)


def _png(fig: Any) -> bytes:
    """The figure as a 64-colour PNG: a third of the bytes of matplotlib's true-colour one at no
    visible cost for a chart of a few flat colours (the report is e-mailed). Pillow comes with
    matplotlib. No metadata: the same data gives the same bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    rgb = np.asarray(canvas.buffer_rgba())[..., :3]
    out = io.BytesIO()
    Image.fromarray(rgb).quantize(64).save(out, format="PNG", optimize=True)
    return out.getvalue()


def _boxes(x: np.ndarray, bottom: np.ndarray, top: np.ndarray, colours: np.ndarray) -> Any:
    """Bars 0.7 wide at ``x`` from ``bottom`` to ``top``, as one PolyCollection."""
    from matplotlib.collections import PolyCollection

    half = 0.35
    corners = np.stack(
        [
            np.column_stack([x - half, bottom]),
            np.column_stack([x - half, top]),
            np.column_stack([x + half, top]),
            np.column_stack([x + half, bottom]),
        ],
        axis=1,
    )
    return PolyCollection(list(corners), facecolors=colours, edgecolors=colours, linewidths=0.5)


# --- the page --------------------------------------------------------------------------------

STYLE = """
body{font:14px/1.45 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#222;
margin:24px auto;max-width:1000px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.meta{color:#555}.demo{background:#fff3cd;border:1px solid #e0c060;padding:6px 10px;margin:10px 0}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{padding:4px 8px;border-bottom:1px solid #e5e5e5;text-align:left}
th{background:#f4f4f4}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
th.sort{cursor:pointer}.v-STRONG_BUY,.v-BUY{color:#1e8449;font-weight:600}
.v-SELL,.v-STRONG_SELL{color:#c0392b;font-weight:600}
figure{margin:16px 0}img{max-width:100%;height:auto;border:1px solid #ddd}
.na{color:#8a6d3b;background:#fcf8e3;padding:6px 10px}
footer{color:#777;font-size:12px;margin-top:32px}
"""

# Sorting for readers whose mail client or browser runs scripts; the table is already in score
# order without it.
SCRIPT = """
document.querySelectorAll('th.sort').forEach(function (th) {
  th.addEventListener('click', function () {
    var table = th.closest('table'), body = table.tBodies[0], col = th.cellIndex;
    var down = th.dataset.dir !== 'desc';
    th.dataset.dir = down ? 'desc' : 'asc';
    Array.from(body.rows).sort(function (a, b) {
      var x = parseFloat(a.cells[col].dataset.v), y = parseFloat(b.cells[col].dataset.v);
      return down ? y - x : x - y;
    }).forEach(function (row) { body.appendChild(row); });
  });
});
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _num(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _summary(stocks: list[dict[str, Any]]) -> str:
    analysed = sorted(
        (s for s in stocks if s["result_id"] is not None),
        key=lambda s: (-s["score"], s["ticker"]),
    )
    if not analysed:
        return "<p>No stock of this job has a result.</p>"
    rows = []
    for s in analysed:
        rows.append(
            "<tr>"
            f"<td>{_e(s['ticker'])}</td>"
            f"<td class='n' data-v='{s['score']:.4f}'>{_num(s['score'], 1)}</td>"
            f"<td class='v-{_e(s['verdict'])}'>{_e(s['verdict'])}</td>"
            f"<td>{_e(s['side'])}</td>"
            f"<td class='n'>{_num(s['close'])}</td>"
            f"<td class='n'>{_num(s['entry'])}</td>"
            f"<td class='n'>{_num(s['stop'])}</td>"
            f"<td class='n'>{_num(s['target'])}</td>"
            f"<td class='n'>{_num(s['reward_risk'])}</td>"
            f"<td class='n'>{_e(s['quantity'])}</td>"
            f"<td>{_e(s['analysis_date'])}</td>"
            f"<td>{'DEMO' if s['analysis_source'] == 'demo' else _e(s['analysis_source'])}</td>"
            "</tr>"
        )
    head = (
        "<tr><th>ticker</th><th class='n sort' title='click to sort'>score ⇅</th><th>verdict</th>"
        "<th>side</th><th class='n'>close</th><th class='n'>entry</th><th class='n'>stop</th>"
        "<th class='n'>target</th><th class='n'>R:R</th><th class='n'>qty</th>"
        "<th>market date</th><th>source</th></tr>"
    )
    return f"<table id='summary'><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def _changes(stocks: list[dict[str, Any]]) -> str:
    items = []
    for s in stocks:
        if s["result_id"] is None:
            continue
        found = events(s)
        if found:
            since = f" (since {_e(s['prev_date'])})" if s["prev_date"] else ""
            items.append(f"<li><b>{_e(s['ticker'])}</b>{since}: {_e('; '.join(found))}</li>")
    if not items:
        return "<p>Nothing changed since the previous analyses of these stocks.</p>"
    return f"<ul>{''.join(items)}</ul>"


def _charts(report: Report) -> str:
    buy_side = [s for s in report.stocks if s["result_id"] is not None and s["verdict"] in BUY_SIDE]
    if not buy_side:
        return "<p>No BUY or STRONG_BUY in this scan.</p>"
    buy_side.sort(key=lambda s: (-s["score"], s["ticker"]))
    parts = []
    for s in buy_side:
        chart = report.charts.get(s["ticker"], "no chart was drawn")
        title = f"{s['ticker']} · {s['verdict']} · score {s['score']:.0f}"
        if isinstance(chart, bytes):
            uri = "data:image/png;base64," + base64.b64encode(chart).decode("ascii")
            parts.append(
                f"<figure><img src='{uri}' alt='{_e(title)}: candlestick chart'"
                " width='960' height='480'></figure>"
            )
        else:
            parts.append(
                f"<figure><p><b>{_e(title)}</b></p>"
                f"<p class='na'>Chart unavailable: {_e(chart)}</p></figure>"
            )
    return "".join(parts)


def _failures(stocks: list[dict[str, Any]]) -> str:
    failed = [s for s in stocks if s["status"] in ("failed", "skipped", "pending", "running")]
    if not failed:
        return "<p>None: every stock was analysed.</p>"
    rows = "".join(
        f"<tr><td>{_e(s['ticker'])}</td><td>{_e(s['status'])}</td><td>{_e(s['error_kind'])}</td>"
        f"<td>{_e(s['error_message'] or s['note'])}</td><td class='n'>{_e(s['attempts'])}</td></tr>"
        for s in failed
    )
    head = (
        "<tr><th>ticker</th><th>status</th><th>kind</th><th>reason</th>"
        "<th class='n'>attempts</th></tr>"
    )
    return f"<table id='failures'><thead>{head}</thead><tbody>{rows}</tbody></table>"


def to_html(report: Report) -> str:
    job = report.job
    title = f"stockscan scan report: job {job['id']}"
    counts = (
        f"{job['succeeded']} succeeded, {job['failed']} failed, {job['skipped']} skipped"
        f" of {job['total']}"
    )
    demo = (
        "<p class='demo'><b>Demo data</b>: synthetic prices, not market data.</p>"
        if job["source"] == "demo"
        else ""
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1>"
        f"<p class='meta'>Job {_e(job['id'])} · {_e(job['status'])} · source"
        f" {_e(job['source'])} · started {_e(local_time(job['created_at']))}"
        f" · finished {_e(local_time(job['finished_at']))}<br>{_e(counts)}</p>{demo}"
        f"<h2>Summary</h2>{_summary(report.stocks)}"
        f"<h2>What changed since the previous scan</h2>{_changes(report.stocks)}"
        f"<h2>BUY-side charts</h2>{_charts(report)}"
        f"<h2>Failures</h2>{_failures(report.stocks)}"
        f"<footer>Generated {_e(local_time(report.generated_at))} by stockscan"
        f" {_e(__version__)}.</footer>"
        f"<script>{SCRIPT}</script></body></html>\n"
    )
