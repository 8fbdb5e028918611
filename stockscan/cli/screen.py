"""``stockscan screen``: saved screens, a --where expression (and --sort) under a name, for
``--screen NAME`` on the listings and ``scan --screen NAME``."""

from __future__ import annotations

from typing import Annotated

import typer

from stockscan.cli.common import app, database, db_path, handle_errors
from stockscan.cli.options import (
    DbOption,
    JsonOption,
    SortOption,
    parse_screen_name,
    parse_sort,
    parse_where,
)
from stockscan.errors import UsageError

screen_app = typer.Typer(
    help="Saved screens: a --where expression under a name (docs/screens.md).",
    no_args_is_help=True,
)
app.add_typer(screen_app, name="screen")

NameArgument = Annotated[
    str, typer.Argument(metavar="NAME", help="The screen's name.", show_default=False)
]


def _name(raw: str) -> str:
    name = parse_screen_name(raw)
    assert name is not None
    return name


@screen_app.command(
    "save",
    epilog="Example:\n\n  stockscan screen save pullback"
    ' "close > sma_200 and close < sma_20 and rsi_14 < 45" --sort rsi_14',
)
@handle_errors
def save(
    name: NameArgument,
    expression: Annotated[
        str, typer.Argument(metavar="EXPR", help="The --where expression.", show_default=False)
    ],
    sort: SortOption = None,
    db: DbOption = None,
) -> None:
    """Save a screen (replacing one of that name), checked before it is saved."""
    from stockscan import render, store
    from stockscan.db import transaction

    checked_name = _name(name)
    compiled = parse_where(expression)
    order = parse_sort(sort)
    assert compiled is not None
    with database(db) as conn, transaction(conn):
        replaced = store.save_screen(
            conn, checked_name, compiled.text, None if order is None else order.text
        )
    render.note(f"{'Replaced' if replaced else 'Saved'} screen {checked_name}.")


@screen_app.command("list", epilog="Example:\n\n  stockscan screen list --json")
@handle_errors
def list_(json_output: JsonOption = False, db: DbOption = None) -> None:
    """List the saved screens."""
    from stockscan import render, store

    with database(db, create=False) as conn:
        screens = store.list_screens(conn)
    if json_output:
        render.print_json(render.screens_document(screens))
    elif screens:
        render.screens_table(screens)
    else:
        render.note(
            "No saved screens: save one with `stockscan screen save NAME EXPR` (docs/screens.md)."
        )


@screen_app.command("show", epilog="Example:\n\n  stockscan screen show pullback")
@handle_errors
def show(name: NameArgument, json_output: JsonOption = False, db: DbOption = None) -> None:
    """Show one saved screen."""
    from stockscan import render, store

    checked_name = _name(name)
    with database(db, create=False) as conn:
        found = store.get_screen(conn, checked_name)
    if found is None:
        raise UsageError(f"no screen {checked_name!r} in {db_path(db)}")
    if json_output:
        render.print_json(found)
    else:
        render.screen_lines(found)


@screen_app.command("remove", epilog="Example:\n\n  stockscan screen remove pullback")
@handle_errors
def remove(name: NameArgument, db: DbOption = None) -> None:
    """Remove a saved screen."""
    from stockscan import render, store
    from stockscan.db import transaction

    checked_name = _name(name)
    with database(db, create=False) as conn, transaction(conn):
        removed = store.remove_screen(conn, checked_name)
    if not removed:
        raise UsageError(f"no screen {checked_name!r} in {db_path(db)}")
    render.note(f"Removed screen {checked_name}.")
