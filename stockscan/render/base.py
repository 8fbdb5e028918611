"""What every part of the output shares: the two consoles (stdout for data, stderr for
diagnostics), text from data made safe to show, one line of text, JSON, tables that fit the
terminal, local times and the small formatters of numbers, counts and sizes.

Characters the output's encoding cannot show are escaped, and control characters in text that
comes from data (``safe``) are printed escaped, so no name or message can move the cursor or
retitle the terminal.
"""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text


class _LazyConsole:
    """A Rich console made on first use: a command that prints plain JSON never imports Rich
    (start-up time is a feature of the read commands)."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._console: Console | None = None

    def real(self) -> Console:
        """The Console itself, for Rich objects that take one (``Progress(console=…)``): they
        use it as a context manager and call its dunders, which ``__getattr__`` cannot
        forward (Python looks those up on the type)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real(), name)


_stdout = _LazyConsole(highlight=False, soft_wrap=True, emoji=False)
_stderr = _LazyConsole(stderr=True, highlight=False, soft_wrap=True, emoji=False)
# For printing (their attributes are the Console's); never hand these to Rich: use .real().
stdout = cast("Console", _stdout)
stderr = cast("Console", _stderr)

SOURCE_NOTES = {
    "demo": "demo: synthetic prices, not market data",
    "yahoo": "Yahoo Finance",
    "csv": "CSV files",
    "legacy": "the old system (imported by `db import-legacy`)",
    "unknown": "imported from the old system, which did not record its source",
}


# --- text from data ---------------------------------------------------------------------------

# C0 and C1 control characters and DEL, and the Unicode controls that reorder what follows
# them on screen (bidirectional embeddings, overrides and isolates).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe(text: object) -> str:
    """Text from data (a watchlist CSV's names, a source's error messages, an old database's
    rows) as it may be shown on a terminal: every control character written as ``\\xNN``, so
    none can send an escape sequence. Every place that prints such text goes through here
    (``say``, ``table``, ``error``, ``note``, the job's lines and its log)."""
    return _CONTROL.sub(_escape, str(text))


def say(text: str, *, style: str | None = None) -> None:
    """One line of text on stdout, data in it escaped. On a terminal Rich wraps it at word
    boundaries to the window's width; elsewhere it stays one line, for grep and logs (and
    Rich is not imported)."""
    if style is None and not sys.stdout.isatty():
        sys.stdout.write(safe(text) + "\n")
        return
    console = _stdout.real()
    console.print(safe(text), markup=False, style=style, soft_wrap=not console.is_terminal)


def error(message: str) -> None:
    """The one-line ``Error: …`` on stderr, as plain text: the message may quote user input."""
    sys.stderr.write(f"Error: {safe(message)}\n")
    sys.stderr.flush()


def note(message: str) -> None:
    sys.stderr.write(f"{safe(message)}\n")
    sys.stderr.flush()


def warning(message: str) -> None:
    """One ``Warning: …`` line on stderr: the command did what was asked, with a leftover."""
    sys.stderr.write(f"Warning: {safe(message)}\n")
    sys.stderr.flush()


def rich_stdout() -> Console:
    """stdout's Rich Console itself, for Rich objects that take one (``Progress``)."""
    return _stdout.real()


def print_json(document: Any) -> None:
    """One JSON document on one line. No indent: with one, Python's json falls back from its
    C encoder to pure Python, three times slower on a 2,000-row listing (pipe to `jq` to
    read it)."""
    sys.stdout.write(json.dumps(document, default=str, separators=(",", ":")) + "\n")


def _cells(*values: str) -> list[Text]:
    """Table cells as plain text: tickers and error messages are never read as markup."""
    from rich.text import Text

    return [Text(v) for v in values]


def local_time(iso: str | None) -> str:
    """A stored timestamp (ISO-8601 UTC) as the user reads it: in the local time zone (TZ),
    with the zone named, to the second: ``2026-11-27 18:42:05 IST``. JSON keeps the stored
    UTC text; every table, ``jobs show`` and the HTML report show this."""
    if not iso:
        return "-"
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso  # not ours (an import of the old system kept it as it was): show it as is
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone()
    return f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or local.strftime('%z')}"


def fmt(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def id_list(ids: list[int]) -> str:
    if not ids:
        return ""
    if len(ids) <= 10:
        return f" (id{'s' if len(ids) > 1 else ''} {', '.join(map(str, ids))})"
    return f" (ids {ids[0]} to {ids[-1]})"


def byte_size(count: int) -> str:
    size = float(count)
    for unit in ("bytes", "KB", "MB"):
        if size < 1024:
            return f"{count} bytes" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"


def plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count} {word if count == 1 else plural or word + 's'}"


def table(
    columns: list[str],
    rows: list[list[str]],
    *,
    right: set[str],
    title: str | None = None,
    wrap: frozenset[str] = frozenset(),
    optional: tuple[str, ...] = (),
) -> None:
    """A table on stdout: Rich on a terminal; plain aligned text otherwise, which stays
    readable in a cron log, greps well and costs nothing at thousands of rows. Cells and title
    are data: escaped (``safe``).

    On a terminal too narrow for the boxed table: one space between columns and a rule under
    the header, the free-text columns in ``wrap`` wrapped within themselves, then without
    the ``optional`` columns (least needed first), saying which are not shown; if even that
    does not fit, the plain text, which the terminal wraps. A value is never cut short: a
    price shown as ``3580.…`` would be worse than a wrapped line."""
    rows = [[safe(cell) for cell in row] for row in rows]
    title = safe(title) if title else None
    if stdout.is_terminal:
        from rich import box
        from rich.measure import Measurement
        from rich.table import Table

        console = _stdout.real()
        unbounded = console.options.update_width(100_000)
        compact: dict[str, Any] = {"box": box.SIMPLE_HEAD, "show_edge": False, "padding": (0, 0)}
        for hidden in range(len(optional) + 1):
            shown = [i for i, c in enumerate(columns) if c not in optional[:hidden]]
            for style in ({}, compact) if hidden == 0 else (compact,):
                rich_table = Table(title=title, title_justify="left", **style)
                for i in shown:
                    rich_table.add_column(
                        columns[i],
                        justify="right" if columns[i] in right else "left",
                        no_wrap=columns[i] not in wrap,
                    )
                for row in rows:
                    rich_table.add_row(*_cells(*(row[i] for i in shown)))
                measured = Measurement.get(console, unbounded, rich_table)
                fits = measured.maximum <= console.width or (
                    wrap and measured.minimum <= console.width
                )
                if fits:
                    console.print(rich_table)
                    if hidden:
                        say(
                            f"(not shown at {console.width} columns: "
                            f"{', '.join(optional[:hidden])}; a wider window shows them)"
                        )
                    return
    widths = [max([len(c), *(len(r[i]) for r in rows)]) for i, c in enumerate(columns)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            cell.rjust(width) if column in right else cell.ljust(width)
            for cell, width, column in zip(cells, widths, columns, strict=True)
        ).rstrip()

    out = ([title] if title else []) + [line(columns)] + [line(row) for row in rows]
    sys.stdout.write("\n".join(out) + "\n")
