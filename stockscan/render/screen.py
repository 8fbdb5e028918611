"""``screen``: the saved screens."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stockscan.render.base import local_time, say, table


def screens_table(screens: Sequence[Mapping[str, Any]]) -> None:
    """``screen list``: one row per screen."""
    table(
        ["name", "where", "sort"],
        [[s["name"], s["expression"], s["sort"] or ""] for s in screens],
        right=set(),
        wrap=frozenset({"where"}),
    )


def screens_document(screens: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``screen list --json``: the saved screens."""
    return {"screens": list(screens)}


def screen_lines(screen: Mapping[str, Any]) -> None:
    """``screen show NAME``."""
    say(f"screen   {screen['name']}")
    say(f"where    {screen['expression']}")
    say(f"sort     {screen['sort'] or '(best score first)'}")
    say(f"saved    {local_time(screen['updated_at'])}")
