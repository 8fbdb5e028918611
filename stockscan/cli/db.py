"""``stockscan db``: information, checks and migrations."""

from __future__ import annotations

import typer

from stockscan.cli.app import DbOption, JsonOption, app, database, db_path, handle_errors
from stockscan.errors import DatabaseError

db_app = typer.Typer(help="Inspect, check and migrate the database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("info", epilog="Example:\n\n  stockscan db info --json")
@handle_errors
def info(json_output: JsonOption = False, db: DbOption = None) -> None:
    """Show the database path, schema version, row counts and size."""
    from stockscan import render, store
    from stockscan.migrations import applied

    path = db_path(db)
    with database(db, create=False) as conn:
        versions = applied(conn)
        counts = store.table_counts(conn)
    size = sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())
    document = {
        "path": str(path),
        "schema_version": len(versions),
        "migrations": versions,
        "rows": counts,
        "size_bytes": size,
    }
    if json_output:
        render.print_json(document)
        return
    render.stdout.print(f"database        {path}", markup=False)
    render.stdout.print(f"schema version  {len(versions)} ({versions[-1]})", markup=False)
    render.stdout.print(f"size            {size / 1024:.1f} KiB", markup=False)
    for table, count in counts.items():
        render.stdout.print(f"  {table:<22} {count:>10}", markup=False)


@db_app.command("check", epilog="Example:\n\n  stockscan db check --db ~/scans/nightly.db")
@handle_errors
def check(json_output: JsonOption = False, db: DbOption = None) -> None:
    """Run SQLite's integrity and foreign-key checks; exit 5 if either finds a problem."""
    from stockscan import render, store

    with database(db, create=False) as conn:
        problems = store.check(conn)
    if json_output:
        render.print_json({"ok": not any(problems.values()), **problems})
    else:
        for name, rows in problems.items():
            render.stdout.print(f"{name:<12} {'ok' if not rows else rows}", markup=False)
    if any(problems.values()):
        raise DatabaseError(f"{db_path(db)}: check failed")


@db_app.command(
    "migrate", epilog="Example:\n\n  STOCKSCAN_DB=~/scans/nightly.db stockscan db migrate"
)
@handle_errors
def migrate(db: DbOption = None) -> None:
    """Create the database or bring it to the current schema (every command does this too)."""
    from stockscan import render
    from stockscan.migrations import applied

    with database(db) as conn:
        versions = applied(conn)
    render.stdout.print(
        f"{db_path(db)}: schema version {len(versions)} ({versions[-1]})", markup=False
    )


@db_app.command("schema", epilog="Example:\n\n  stockscan db schema > schema.sql")
@handle_errors
def schema() -> None:
    """Print the schema the migrations build (this is how schema.sql is generated)."""
    import sqlite3

    from stockscan.migrations import migrate as run_migrations
    from stockscan.migrations import schema_sql

    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        conn.execute("PRAGMA foreign_keys = ON")
        run_migrations(conn)
        typer.echo(schema_sql(conn), nl=False)
    finally:
        conn.close()
