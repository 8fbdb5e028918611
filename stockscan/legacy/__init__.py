"""Import a database of the old three-table design (``stockscan db import-legacy``).

The old file is only ever read, through a read-only URI (``oldfile``). The package:
``oldfile`` opens and checks it, ``mapping`` (pure) says what each old row becomes,
``importer`` runs the passes and writes, ``report`` counts what a run did (``render`` shows it).

What becomes what:

- ``watchlist`` rows become watchlist rows, the symbol normalised like any ticker
  (``stockscan.tickers``); symbols that are not tickers are reported, never dropped silently.
  stockscan has no users yet, so the old ``user_id`` is not kept: the report counts it.
- ``analysis_jobs`` rows become jobs of source ``legacy`` that keep the old UUID in
  ``legacy_job_id``. The old system kept no per-stock rows, so these jobs have none. A job stuck
  in ``processing`` (or any status that is not an end state) becomes ``interrupted``, with a
  message; the old ``errors`` text is kept in ``message``.
- ``analysis_results`` rows become results, one per ticker and market date. The old rows have
  no market date: the market date of an old row is the UTC date of its ``created_at`` (naive
  timestamps are taken as UTC, what SQLite's CURRENT_TIMESTAMP writes), since the old service
  analysed on request against the newest bar of that day. Of several rows for one ticker and
  date the newest ``created_at`` wins (then the highest old id); the others are counted as
  merged duplicates and, with ``--keep-duplicates-in``, written out. A ticker and date that
  already has a result (an earlier import, or stockscan's own analysis) keeps it.
  All of them belong to one "legacy import" job with one succeeded stock row per ticker,
  since the old rows cannot be traced to their jobs.
- Repairs, each counted: a NULL source becomes ``unknown``, a NULL status ``complete`` (the old
  system never filled it in), a NULL ``created_at`` falls back to ``updated_at``. What is never
  invented: a row whose score is missing or outside 0-100, whose verdict is not one of the five,
  whose status is something else than completed/partial, or whose ticker is not a ticker, is
  not imported; it is counted by reason (and written out with the duplicates, if asked).
- ``raw_data`` goes to ``analysis_raw_data`` unchanged when it is valid JSON; anything else is
  kept as text inside ``{"legacy_text": …, "valid_json": false}`` (a BLOB as
  ``legacy_base64``), so nothing is lost and the flag is in the payload itself.
- "Orphans" are old results that no surviving old job can have written (their ``created_at``
  is outside every old job's created..completed window): the old cleanup deleted their job.
  They are imported like the rest and counted.

Memory stays bounded at any file size, and an interrupted import is continued by the same
command (``importer``). A dry run is the program's one kind (``db.changes``): the real run,
its claim of the import job included, with each transaction rolled back.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from stockscan import store
from stockscan.db import Connection
from stockscan.errors import UsageError
from stockscan.legacy.importer import Importer, import_request_key
from stockscan.legacy.mapping import CheckedJob, CheckedResult, check_job, check_result, raw_payload
from stockscan.legacy.oldfile import OLD_DESIGN, LegacyFile, open_legacy, refuse_overlaps
from stockscan.legacy.report import LegacyReport

__all__ = [
    "OLD_DESIGN",
    "CheckedJob",
    "CheckedResult",
    "Importer",
    "LegacyFile",
    "LegacyReport",
    "check_job",
    "check_resumable",
    "check_result",
    "import_legacy",
    "import_request_key",
    "open_legacy",
    "raw_payload",
    "refuse_overlaps",
]


def import_legacy(
    legacy: LegacyFile,
    into: Connection | Path,
    *,
    dry_run: bool = False,
    duplicates_out: Path | None = None,
    progress: Callable[[str], None] | None = None,
    db_bytes_before: int | None = None,
) -> LegacyReport:
    """Import ``legacy`` into ``into``, the database's connection; return the report.

    ``into`` is a path only for a dry run into a database that does not exist yet: it runs
    against a blank database made for it in a temporary directory (nothing can be present in
    it), and the target is not even created.
    """

    def importer(conn: Connection, shown: Path | None = None) -> Importer:
        return Importer(
            legacy, conn, dry_run=dry_run, duplicates_out=duplicates_out,
            progress=progress, db_bytes_before=db_bytes_before, database=shown,
        )  # fmt: skip

    if isinstance(into, Connection):
        return importer(into).run()
    if not dry_run:
        raise ValueError("only a dry run imports without a database")
    with tempfile.TemporaryDirectory(prefix="stockscan-dry-run-") as directory:
        blank_path = Path(directory) / "blank.db"
        blank = store.open(blank_path)
        try:
            return importer(blank, into).run()
        finally:
            blank.close()


def check_resumable(job: Mapping[str, Any]) -> None:
    """``jobs resume`` of a legacy job: say why not, and what to do instead."""
    if job["source"] != "legacy":
        return
    if job.get("legacy_job_id"):
        raise UsageError(
            f"job {job['id']} is the old system's job {job['legacy_job_id']}, imported by"
            " `db import-legacy`: it has no stock list here and cannot be resumed"
        )
    path = job["params"].get("legacy_path", "PATH")
    raise UsageError(
        f"job {job['id']} is an import from the old system: run"
        f" `stockscan db import-legacy {path}` again to continue it"
    )
