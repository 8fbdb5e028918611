"""What one run of ``db import-legacy`` did: counted as it goes, then a JSON document
(``--json``, ``as_json()``); ``render.db_import_report`` prints it for a person.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LIST_LIMIT = 20  # invalid symbols or unknown values listed in a report, at most


def file_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


@dataclass
class Counts:
    """Rows of one old table: read, and of those imported or already there."""

    read: int = 0
    imported: int = 0
    already_present: int = 0


@dataclass
class WatchlistCounts(Counts):
    merged_duplicates: int = 0
    invalid: int = 0
    invalid_symbols: list[str] = field(default_factory=list)  # the first LIST_LIMIT
    user_rows: int = 0  # old rows with a user_id
    user_ids: set[Any] = field(default_factory=set)


@dataclass
class JobCounts(Counts):
    interrupted: int = 0  # imported as interrupted: the old job never finished
    unimportable: int = 0  # without a job id


@dataclass
class ResultCounts(Counts):
    """``already_present``: imported by an earlier run; ``kept_existing``: stockscan's own."""

    kept_existing: int = 0
    merged_duplicates: int = 0
    unimportable: Counter[str] = field(default_factory=Counter)  # by reason
    orphans: int = 0
    invalid_json: int = 0
    tickers: set[str] = field(default_factory=set)
    unknown_sources: set[str] = field(default_factory=set)  # the first LIST_LIMIT


@dataclass
class LegacyReport:
    legacy_path: Path
    database: Path
    dry_run: bool
    database_before: int  # bytes of the database and its WAL before the import opened it
    legacy_before: int = 0
    legacy_after: int = 0
    database_after: int = 0
    job_id: int | None = None
    watchlist: WatchlistCounts = field(default_factory=WatchlistCounts)
    jobs: JobCounts = field(default_factory=JobCounts)
    results: ResultCounts = field(default_factory=ResultCounts)
    repaired: Counter[str] = field(default_factory=Counter)
    duplicates_file: Path | None = None
    duplicates_written: int = 0
    notes: list[str] = field(default_factory=list)  # about the old file, as opened
    seconds: float = 0.0

    def job_message(self) -> str:
        """The message of the import job: what its last run did."""
        r = self.results
        return (
            f"imported from the old system's {self.legacy_path}; its last run imported"
            f" {r.imported} results for {len(r.tickers)} tickers, merged"
            f" {r.merged_duplicates} older duplicates, left out {sum(r.unimportable.values())}"
            f" old rows that could not be imported and {r.kept_existing} that stockscan's own"
            " results cover (`db import-legacy --dry-run --json` reports them again)"
        )

    def as_json(self) -> dict[str, Any]:
        w, j, r = self.watchlist, self.jobs, self.results
        unimportable = sum(r.unimportable.values())
        users = (
            f"stockscan has no users yet: {w.user_rows} watchlist rows of"
            f" {len(w.user_ids)} old user ids became one watchlist; user_id is not kept"
            if w.user_rows
            else "no old watchlist row had a user_id"
        )
        notes = list(self.notes)
        if r.unknown_sources:
            notes.append(
                "unrecognised old sources stored as 'unknown': "
                + ", ".join(sorted(r.unknown_sources))
            )
        return {
            "legacy_path": str(self.legacy_path),
            "database": str(self.database),
            "dry_run": self.dry_run,
            "job_id": self.job_id,
            "totals": {
                "rows_read": w.read + j.read + r.read,
                "imported": w.imported + j.imported + r.imported,
                "already_present": w.already_present + j.already_present + r.already_present,
                "merged_duplicates": w.merged_duplicates + r.merged_duplicates,
                "repaired": sum(self.repaired.values()),
                "orphans": r.orphans,
                "unimportable": w.invalid + j.unimportable + unimportable,
            },
            "watchlist": {
                "read": w.read,
                "imported": w.imported,
                "already_present": w.already_present,
                "merged_duplicates": w.merged_duplicates,
                "invalid": w.invalid,
                "invalid_symbols": w.invalid_symbols,
            },
            "users": {
                "rows_with_user_id": w.user_rows,
                "distinct_user_ids": len(w.user_ids),
                "note": users,
            },
            "jobs": {
                "read": j.read,
                "imported": j.imported,
                "already_present": j.already_present,
                "interrupted": j.interrupted,
                "unimportable": j.unimportable,
            },
            "results": {
                "read": r.read,
                "imported": r.imported,
                "tickers": len(r.tickers),
                "already_imported": r.already_present,
                "kept_existing": r.kept_existing,
                "merged_duplicates": r.merged_duplicates,
                "unimportable": unimportable,
                "unimportable_reasons": dict(sorted(r.unimportable.items())),
                "orphans": r.orphans,
                "invalid_json": r.invalid_json,
            },
            "repaired": dict(sorted(self.repaired.items())),
            "duplicates_file": None if self.duplicates_file is None else str(self.duplicates_file),
            "duplicates_written": self.duplicates_written,
            "bytes": {
                "legacy_before": self.legacy_before,
                "legacy_after": self.legacy_after,
                "database_before": self.database_before,
                "database_after": self.database_after,
            },
            "notes": notes,
            "seconds": round(self.seconds, 3),
        }
