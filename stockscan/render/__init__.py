"""Everything the user sees: one module per command group, as in ``stockscan.cli``, over the
shared ``base`` (the two consoles, ``safe``, ``say``, tables, local times) and ``streams``
(output that fails is not the command failing). The JSON documents and line reports the
commands print are shaped here, except those of a core value with its own ``as_json()``
(``retention``'s and ``legacy``'s reports); the command modules parse, call the core and hand
the result over.

Two consoles: stdout for data, stderr for diagnostics. ``--json`` writes one JSON document to
stdout and nothing else there. Callers use ``render.x``; the names below are those.
"""

from __future__ import annotations

from stockscan.render.analyze import JobReporter, stock_line
from stockscan.render.base import (
    SOURCE_NOTES,
    error,
    local_time,
    note,
    print_json,
    safe,
    say,
    stderr,
    stdout,
    table,
    warning,
)
from stockscan.render.db import (
    db_check,
    db_check_document,
    db_import_report,
    db_info,
    db_info_document,
    db_migrated,
    db_prune_report,
    db_vacuumed,
)
from stockscan.render.jobs import (
    counts_line,
    job_detail,
    job_prune_report,
    job_state,
    job_summary,
    jobs_document,
    jobs_table,
    lock_files_left,
    outcome_json,
)
from stockscan.render.results import (
    DEMO_NOTE,
    PARTIAL_NOTE,
    changes_document,
    changes_report,
    changes_table,
    history_document,
    history_table,
    latest_columns,
    latest_document,
    missing_notes,
    no_results,
    result_detail,
    result_document,
    result_fields,
    results_table,
    write_records,
)
from stockscan.render.scan import cron_text
from stockscan.render.screen import screen_lines, screens_document, screens_table
from stockscan.render.streams import (
    OutputClosed,
    OutputFailed,
    finish_output,
    guard_streams,
    output,
)
from stockscan.render.watchlist import watchlist_document, watchlist_table

__all__ = [
    "screen_lines",
    "screens_document",
    "screens_table",
    "DEMO_NOTE",
    "PARTIAL_NOTE",
    "SOURCE_NOTES",
    "JobReporter",
    "OutputClosed",
    "OutputFailed",
    "changes_document",
    "changes_report",
    "changes_table",
    "counts_line",
    "cron_text",
    "db_check",
    "db_check_document",
    "db_import_report",
    "db_info",
    "db_info_document",
    "db_migrated",
    "db_prune_report",
    "db_vacuumed",
    "error",
    "finish_output",
    "guard_streams",
    "history_document",
    "history_table",
    "job_detail",
    "job_prune_report",
    "job_state",
    "job_summary",
    "jobs_document",
    "jobs_table",
    "latest_document",
    "local_time",
    "lock_files_left",
    "missing_notes",
    "no_results",
    "note",
    "outcome_json",
    "output",
    "print_json",
    "result_detail",
    "result_document",
    "result_fields",
    "latest_columns",
    "results_table",
    "safe",
    "say",
    "stderr",
    "stdout",
    "stock_line",
    "table",
    "warning",
    "watchlist_document",
    "watchlist_table",
    "write_records",
]
