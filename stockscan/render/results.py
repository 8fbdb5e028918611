"""``results``: listings, a ticker's history, one result in full and as JSON, exports, and
``results changes``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

from stockscan.render.base import SOURCE_NOTES, fmt, local_time, note, say, table
from stockscan.request import stored_position

DEMO_NOTE = (
    "DEMO rows are synthetic prices, not market data; `stockscan db prune --demo` deletes them."
)
PARTIAL_NOTE = "* the last bar was still moving when analysed (partial)."


def result_fields() -> tuple[str, ...]:
    """Columns of every results listing in CSV, JSON and NDJSON."""
    from stockscan.store import RESULT_COLUMNS

    return (*RESULT_COLUMNS, "demo")


def _source_cell(row: dict[str, Any]) -> str:
    # Upper case so a demo row stands out in any listing, whatever else it shows.
    return "DEMO" if row["demo"] else str(row["analysis_source"])


def _date_cell(row: dict[str, Any]) -> str:
    return str(row["analysis_date"]) + ("*" if row["status"] == "partial" else "")


def _listing_notes(rows: list[dict[str, Any]]) -> None:
    if any(row["demo"] for row in rows):
        say(DEMO_NOTE)
    if any(row["status"] == "partial" for row in rows):
        say(PARTIAL_NOTE)


# The columns `results latest` can show (--columns): name -> (header, cell, right-aligned).
# The default leaves out entry (the close on the exchange's tick: a tick at most from it) and
# reward:risk (the plan's 2.0, to the tick): columns a trader cannot sort stocks apart by.
_Cell = Callable[[Mapping[str, Any]], str]


def _number(name: str, digits: int = 2) -> _Cell:
    return lambda row: fmt(row.get(name), digits)


LATEST_COLUMNS: dict[str, tuple[str, _Cell, bool]] = {
    "ticker": ("ticker", lambda row: str(row["ticker"]), False),
    "date": ("date", lambda row: _date_cell(dict(row)), False),
    "score": ("score", lambda row: f"{row['score']:.1f}", True),
    "verdict": ("verdict", lambda row: str(row["verdict"]), False),
    "side": ("side", lambda row: str(row["side"]), False),
    "close": ("close", _number("close"), True),
    "entry": ("entry", _number("entry"), True),
    "stop": ("stop", _number("stop"), True),
    "target": ("target", _number("target"), True),
    "reward_risk": ("r:r", _number("reward_risk", 1), True),
    "source": ("source", lambda row: _source_cell(dict(row)), False),
    "rsi_14": ("RSI", _number("rsi_14", 1), True),
    "atr_pct": ("ATR %", _number("atr_pct", 1), True),
    "stop_pct": ("stop %", _number("stop_pct", 1), True),
    "volume_ratio_20": ("vol ratio", _number("volume_ratio_20", 2), True),
    "pct_from_52w_high": ("52w high %", _number("pct_from_52w_high", 1), True),
    **{
        name: (name, _number(name), True)
        for name in (
            "sma_20",
            "sma_50",
            "sma_200",
            "ema_20",
            "macd",
            "macd_signal",
            "macd_hist",
            "atr_14",
            "bb_upper",
            "bb_middle",
            "bb_lower",
            "adx_14",
            "roc_20",
            "high_52w",
            "low_52w",
        )
    },  # fmt: skip
}
DEFAULT_LATEST_COLUMNS = ("ticker", "date", "score", "verdict", "side", "close", "rsi_14",
                          "atr_pct", "stop_pct", "volume_ratio_20", "stop", "target",
                          "source")  # fmt: skip


def latest_columns(raw: str | None) -> tuple[str, ...]:
    """--columns ``NAME[,NAME…]`` checked (UsageError, exit 2); the default when None."""
    from stockscan.errors import UsageError

    if raw is None:
        return DEFAULT_LATEST_COLUMNS
    names: list[str] = []
    for part in raw.split(","):
        name = part.strip().lower()
        if name not in LATEST_COLUMNS:
            shown = repr(name if len(name) <= 30 else name[:30] + "…")
            raise UsageError(
                f"--columns: unknown column {shown}; known columns: {', '.join(LATEST_COLUMNS)}"
            )
        if name not in names:
            names.append(name)
    return tuple(names)


def results_table(
    rows: list[dict[str, Any]],
    *,
    title: str | None = None,
    columns: tuple[str, ...] = DEFAULT_LATEST_COLUMNS,
) -> None:
    """``results latest``: one row per ticker, the ``columns`` of LATEST_COLUMNS."""
    specs = [LATEST_COLUMNS[name] for name in columns]
    headers = [header for header, _, _ in specs]
    cells = [[cell(row) for _, cell, _ in specs] for row in rows]
    table(
        headers,
        cells,
        right={header for header, _, right in specs if right},
        title=title,
        optional=tuple(h for h in ("r:r", "vol ratio", "close", "side") if h in headers),
    )
    _listing_notes(rows)


def history_table(ticker: str, rows: list[dict[str, Any]]) -> None:
    """``results history``: newest first, with the move from the analysis before each."""
    columns = ["date", "score", "change", "verdict", "move", "side", "entry", "stop", "target",
               "source"]  # fmt: skip
    cells = []
    for row in rows:
        change = row["score_change"]
        previous = row["previous_verdict"]
        cells.append(
            [
                _date_cell(row),
                f"{row['score']:.1f}",
                "" if change is None else f"{change:+.1f}",
                row["verdict"],
                f"{previous} -> {row['verdict']}"
                if previous and previous != row["verdict"]
                else "",
                row["side"],
                fmt(row["entry"]),
                fmt(row["stop"]),
                fmt(row["target"]),
                _source_cell(row),
            ]
        )
    title = f"{ticker}: {len(rows)} newest {'analysis' if len(rows) == 1 else 'analyses'}"
    table(columns, cells, right={"score", "change", "entry", "stop", "target"}, title=title)
    _listing_notes(rows)


def result_document(row: Mapping[str, Any]) -> dict[str, Any]:
    """``results show --json``: the result, its trade plan, ``indicators`` (every indicator at
    the last bar) and ``components`` (the parts of the score), and where it came from.
    Indicators and components are null once the raw data has been pruned (``db prune
    --raw-older-than``); ``provenance.raw_data`` says so."""
    from stockscan.store import RAW_PRUNED_KEY, RESULT_COLUMNS

    payload = json.loads(row["raw_payload"]) if row["raw_payload"] else None
    # Raw data imported from elsewhere need not be an object of the engine's shape.
    raw: dict[str, Any] = payload if isinstance(payload, dict) else {}
    pruned_at = raw.get(RAW_PRUNED_KEY)
    if pruned_at:
        raw = {}
    plan = raw.get("plan")
    if not isinstance(plan, dict):
        plan = {}
    indicators = raw.get("indicators")
    components = raw.get("components")
    params = row["job_params"]
    return {
        **{name: row[name] for name in RESULT_COLUMNS},
        "demo": row["demo"],
        "plan": {
            "side": row["side"],
            "entry": row["entry"],
            "stop": row["stop"],
            "target": row["target"],
            "reward_risk": row["reward_risk"],
            "risk_per_share": plan.get("risk_per_share"),
            # The tick the prices are on (scoring version 2 on; null before).
            "tick": plan.get("tick"),
            "tick_rule": plan.get("tick_rule"),
        },
        "indicators": indicators if isinstance(indicators, dict) else None,
        "components": components if isinstance(components, list) else None,
        "bar": raw.get("bar"),
        "signals": raw.get("signals"),
        "provenance": {
            "source": row["analysis_source"],
            "demo": row["demo"],
            "job_id": row["job_id"],
            "job_status": row["job_status"],
            "market_date": row["analysis_date"],
            "last_bar_complete": row["status"] == "complete",
            "scoring_version": row["scoring_version"],
            "bars_used": row["bars_used"],
            # NULL on results from before migration m005 (unknown) and where not applicable.
            "fetched_at": row.get("fetched_at"),
            "source_version": row.get("source_version"),
            "auto_adjust": None if row.get("auto_adjust") is None else bool(row["auto_adjust"]),
            "created_at": row["created_at"],
            "updated_at": row["updated_at"],
            "raw_data": "pruned" if pruned_at else "present" if payload is not None else "missing",
            "raw_pruned_at": pruned_at,
        },
        # Quantity depends on the capital of the job that wrote the result: null once that
        # job has been pruned.
        "position": None
        if params is None
        else {
            "job_id": row["job_id"],
            "capital": params.get("capital"),
            "risk_pct": params.get("risk_pct"),
            "quantity": row["quantity"],
            **_job_position(row, params),
        },
    }


def _job_position(row: Mapping[str, Any], params: Mapping[str, Any]) -> dict[str, Any]:
    """The writing job's sides and cap, and what they make of the plan (null for a result of
    another scoring version or a job from before them)."""
    held = stored_position(row["ticker"], row, params)
    extra = {"sides": params.get("sides"), "max_position_pct": params.get("max_position_pct")}
    if held is None:
        return {**extra, "action": None, "notes": None}
    return {**extra, **{k: v for k, v in held.as_json().items() if k != "quantity"}}


def _num(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.4f}"


def result_detail(doc: dict[str, Any]) -> None:
    """``results show``: one result in full."""
    head = f"{doc['ticker']}  {doc['analysis_date']}  score {doc['score']:.1f}  {doc['verdict']}"
    say(head)
    if doc["demo"]:
        say("DEMO DATA: synthetic prices, not market data")
    plan, position = doc["plan"], doc["position"]
    action = position.get("action") if position else None
    if plan["side"] == "none":
        trade = f"no trade (close {_num(doc['close'])})"
    elif action == "avoid":
        trade = f"{plan['side']} verdict, close {_num(doc['close'])}: no short plan"
    else:
        trade = (
            f"{plan['side']}  entry {_num(plan['entry'])}  stop {_num(plan['stop'])}  "
            f"target {_num(plan['target'])}  reward:risk {fmt(plan['reward_risk'], 1)}"
            + (f"  risk/share {_num(plan['risk_per_share'])}" if plan["risk_per_share"] else "")
        )
    if position is None:
        sizing = "quantity unknown: the job that wrote this result was pruned"
    elif position["capital"] is None:
        sizing = f"quantity unknown: job {position['job_id']} has no capital (an import)"
    else:
        sizing = (
            f"quantity {position['quantity'] if position['quantity'] is not None else '-'} "
            f"(job {position['job_id']}: capital {position['capital']:g}, "
            f"risk {position['risk_pct']:g}%"
            + (
                f", sides {position['sides']}, cap {position['max_position_pct']:g}%)"
                if position.get("sides")
                else ")"
            )
        )
    p = doc["provenance"]
    source = SOURCE_NOTES.get(p["source"], p["source"]).removeprefix(f"{p['source']}: ")
    raw = {"present": "kept", "missing": "missing"}.get(
        p["raw_data"], f"pruned {local_time(p['raw_pruned_at'])}"
    )
    lines = [
        "",
        "Trade plan",
        f"  {trade}",
        f"  {sizing}",
        *(f"  {note}" for note in (position or {}).get("notes") or ()),
        *([f"  prices on the tick: {plan['tick_rule']}"] if plan.get("tick_rule") else []),
        "",
        "Provenance",
        f"  source       {p['source']} ({source})",
        f"  job          {p['job_id']} ({p['job_status']})"
        if p["job_id"] is not None
        else "  job          pruned",
        f"  market date  {p['market_date']}, last bar "
        + ("complete" if p["last_bar_complete"] else "still moving (partial)"),
        f"  fetched      {local_time(p['fetched_at']) if p['fetched_at'] else 'unknown'}"
        + (f" by {p['source_version']}" if p["source_version"] else "")
        + ("" if p["auto_adjust"] is None else f", auto_adjust={p['auto_adjust']}"),
        f"  scoring      version {p['scoring_version']}, {p['bars_used'] or '?'} bars",
        f"  written      {local_time(p['created_at'])}, updated {local_time(p['updated_at'])}",
        f"  raw data     {raw}",
    ]
    for line in lines:
        say(line)
    if doc["indicators"] is not None:
        say("")
        table(
            ["indicator", "value"],
            [[name, _num(value)] for name, value in doc["indicators"].items()],
            right={"value"},
            title="Indicators at the last bar",
        )
    if doc["components"] is not None:
        say("")
        table(
            ["component", "points", "of", "reason"],
            [
                [c["name"], f"{c['points']:.1f}", f"{c['max_points']:g}", c["reason"]]
                for c in doc["components"]
            ],
            right={"points", "of"},
            title=f"Score components (total {doc['score']:.1f})",
            wrap=frozenset({"reason"}),
        )


def write_records(rows: Iterable[dict[str, Any]], fmt: str, out: TextIO) -> int:
    """Write rows as ``csv``, ``json`` (one array) or ``ndjson`` (one object a line), one at a
    time: memory stays constant however many rows come. Returns how many were written."""
    fields = result_fields()
    count = 0
    if fmt == "csv":
        import csv

        writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
        return count
    if fmt == "json":
        out.write("[")
    for row in rows:
        text = json.dumps({name: row[name] for name in fields}, separators=(",", ":"))
        if fmt == "json":
            out.write(("\n" if count == 0 else ",\n") + text)
        else:
            out.write(text + "\n")
        count += 1
    if fmt == "json":
        out.write("\n]\n")
    return count


def changes_table(found: list[dict[str, Any]]) -> None:
    """`results changes`: one row per ticker that moved, with what happened."""
    columns = ["ticker", "from", "to", "score", "verdict", "what changed"]
    rows = [
        [
            c["ticker"] + (" (demo)" if c["analysis_source"] == "demo" else ""),
            c["prev_date"] or "-",
            c["analysis_date"],
            f"{c['score']:.1f} (first)"
            if c["prev_score"] is None
            else f"{c['prev_score']:.1f} → {c['score']:.1f}",
            c["verdict"],
            "; ".join(c["events"]),
        ]
        for c in found
    ]
    table(columns, rows, right=set(), wrap=frozenset({"what changed"}))


def changes_document(
    since: str | None, compared: int, found: list[dict[str, Any]]
) -> dict[str, Any]:
    """``results changes --json``."""
    return {"since": since, "compared": compared, "changes": found}


def changes_report(since: str | None, compared: int, found: list[dict[str, Any]]) -> None:
    """``results changes``: the table of what moved and how many of how many; or that none did."""
    if not found:
        note(f"No changes among {compared} tickers analysed since {since or '-'}.")
        return
    changes_table(found)
    note(f"{len(found)} of {compared} tickers analysed since {since} changed.")


def latest_document(
    as_of: str | None, rows: list[dict[str, Any]], missing: list[str]
) -> dict[str, Any]:
    """``results latest --json``: the rows, and the tickers asked for that have none."""
    return {"as_of": as_of, "results": rows, "missing": missing}


def history_document(ticker: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``results history --json``."""
    return {"ticker": ticker, "history": rows}


def no_results(
    tickers: list[str] | None = None,
    *,
    date: str | None = None,
    since: str | None = None,
    until: str | None = None,
    verdicts: list[str] | None = None,
    score: float | None = None,
    source: str | None = None,
    where: str | None = None,
) -> str:
    """What an empty listing says: the filters that emptied it, as options to retype."""
    filters = [
        *([f"--date {date}"] if date else []),
        *([f"--since {since}"] if since else []),
        *([f"--until {until}"] if until else []),
        *([f"--verdict {','.join(verdicts)}"] if verdicts else []),
        *([f"--min-score {score:g}"] if score is not None else []),
        *([f"--source {source}"] if source else []),
        *([where] if where else []),  # --where and --screen, as screening() names them
    ]
    among = f" for {', '.join(tickers)}" if tickers else ""
    if not filters:
        return (
            f"No results{among} yet: `stockscan analyze TICKER...` or `stockscan scan` adds them."
        )
    return f"No results{among} match {' '.join(filters)}."


def missing_notes(missing: list[str], hints: dict[str, str]) -> None:
    """The tickers asked for that have no results: one line for those with nothing to add,
    then one each for those with a hint (the suffixed ticker that has results)."""
    plain = [ticker for ticker in missing if not hints[ticker]]
    if plain:
        note(f"No results for {', '.join(plain)}.")
    for ticker in missing:
        if hints[ticker]:
            note(f"No results for {ticker}{hints[ticker]}")
