"""``watchlist list``: each followed ticker with its latest analysis."""

from __future__ import annotations

from typing import Any

from stockscan.render.base import fmt, table


def watchlist_table(rows: list[dict[str, Any]]) -> None:
    """`watchlist list`: each followed ticker with its latest analysis; demo and stale marked."""
    columns = ["ticker", "name", "date", "score", "verdict", "entry", "stop", "target", "last run"]
    table_rows = []
    for r in rows:
        flags = [
            f for f, on in (("demo", r["analysis_source"] == "demo"), ("stale", r["stale"])) if on
        ]
        table_rows.append(
            [
                r["ticker"],
                r["name"] or "",
                (r["analysis_date"] or "-") + (f" ({', '.join(flags)})" if flags else ""),
                "-" if r["score"] is None else f"{r['score']:.1f}",
                r["verdict"] or "-",
                fmt(r["entry"]),
                fmt(r["stop"]),
                fmt(r["target"]),
                r["analysis_status"] or "never",
            ]
        )
    table(
        columns,
        table_rows,
        right={"score", "entry", "stop", "target"},
        wrap=frozenset({"name"}),
        optional=("last run",),
    )


def watchlist_document(newest: str | None, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``watchlist list --json``: the rows, and the newest market date that ``stale`` is
    measured against."""
    return {"newest_market_date": newest, "watchlist": rows}
