"""All SQL of stockscan, one module per table family. Every function takes a connection;
writers expect to be called inside ``db.transaction()`` by their caller, which decides where
transactions begin and end. This module re-exports the public names, so callers write
``store.x`` whichever module ``x`` lives in.

Timestamps are ISO-8601 UTC text; market dates are ``YYYY-MM-DD``.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from stockscan import db, migrations
from stockscan.store.base import (
    ACTIVE_JOB_STATUSES,
    COUNTED_STOCK_STATUSES,
    REAL_SOURCES,
    TERMINAL_JOB_STATUSES,
    now_iso,
)
from stockscan.store.jobs import (
    PendingStock,
    adopt_job,
    count_jobs,
    create_job,
    fail_stock,
    find_active_job,
    finish_job,
    get_job,
    interrupt_job,
    job_stocks,
    keep_result,
    list_jobs,
    newest_job_id,
    running_jobs,
    save_result,
    start_stock,
    unfinished_stocks,
)
from stockscan.store.legacy import (
    finish_legacy_import,
    insert_legacy_job,
    insert_legacy_result,
    insert_legacy_watchlist,
    legacy_job_exists,
    link_watchlist_to_latest,
    record_legacy_ticker,
    result_on,
    watchlist_has,
)
from stockscan.store.prices import (
    PriceBarRow,
    merge_price_bars,
    price_bars,
    price_cache_size,
    price_fetch,
    price_prune_effects,
    prune_prices,
)
from stockscan.store.results import (
    RESULT_COLUMNS,
    current_result,
    detail_query,
    export_query,
    history_query,
    iter_results,
    latest_query,
    latest_results,
    newest_market_date,
    report_stocks,
    report_stocks_query,
    result_detail,
    result_history,
    result_pairs,
    tickers_without_results,
    tickers_without_results_query,
)
from stockscan.store.retention import (
    RAW_PRUNED_KEY,
    TABLES,
    active_jobs,
    check,
    delete_demo_results,
    delete_future_results,
    delete_jobs,
    demo_prune_effects,
    future_prune_effects,
    job_prune_effects,
    prune_raw,
    raw_prune_effects,
    storage,
    table_counts,
    terminal_jobs,
    vacuum,
)
from stockscan.store.watchlist import (
    add_to_watchlist,
    remove_from_watchlist,
    watchlist_rows,
    watchlist_tickers,
)


def open(path: Path, *, create: bool = True) -> sqlite3.Connection:
    """Open the database at ``path`` and migrate it: opening the store is migrating it, so a
    new database and an old one are handled the same (see ``db.open_db`` for ``create``)."""
    return db.open_db(path, create=create, setup=migrations.migrate)


__all__ = [
    "open",
    "ACTIVE_JOB_STATUSES",
    "COUNTED_STOCK_STATUSES",
    "PendingStock",
    "PriceBarRow",
    "RAW_PRUNED_KEY",
    "REAL_SOURCES",
    "RESULT_COLUMNS",
    "TABLES",
    "TERMINAL_JOB_STATUSES",
    "active_jobs",
    "add_to_watchlist",
    "adopt_job",
    "check",
    "count_jobs",
    "create_job",
    "current_result",
    "delete_demo_results",
    "delete_future_results",
    "delete_jobs",
    "demo_prune_effects",
    "detail_query",
    "export_query",
    "fail_stock",
    "find_active_job",
    "finish_job",
    "finish_legacy_import",
    "future_prune_effects",
    "get_job",
    "history_query",
    "insert_legacy_job",
    "insert_legacy_result",
    "insert_legacy_watchlist",
    "interrupt_job",
    "iter_results",
    "job_prune_effects",
    "job_stocks",
    "keep_result",
    "latest_query",
    "latest_results",
    "legacy_job_exists",
    "link_watchlist_to_latest",
    "list_jobs",
    "merge_price_bars",
    "newest_job_id",
    "newest_market_date",
    "now_iso",
    "price_bars",
    "price_cache_size",
    "price_fetch",
    "price_prune_effects",
    "prune_prices",
    "prune_raw",
    "raw_prune_effects",
    "record_legacy_ticker",
    "remove_from_watchlist",
    "report_stocks",
    "report_stocks_query",
    "result_detail",
    "result_history",
    "result_on",
    "result_pairs",
    "running_jobs",
    "save_result",
    "start_stock",
    "storage",
    "table_counts",
    "terminal_jobs",
    "tickers_without_results",
    "tickers_without_results_query",
    "unfinished_stocks",
    "vacuum",
    "watchlist_has",
    "watchlist_rows",
    "watchlist_tickers",
]
