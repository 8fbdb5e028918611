"""``db``: what ``db info``, ``check``, ``migrate``, ``prune``, ``vacuum`` and ``import-legacy``
print."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from stockscan.render.base import byte_size, id_list, plural, say

if TYPE_CHECKING:
    from stockscan.legacy import LegacyReport
    from stockscan.retention import DbPrune


def db_info_document(
    path: Path,
    versions: list[str],
    counts: dict[str, int],
    price_cache: dict[str, Any],
    size: int,
) -> dict[str, Any]:
    """``db info --json``."""
    return {
        "path": str(path),
        "schema_version": len(versions),
        "migrations": versions,
        "rows": counts,
        "price_cache": price_cache,
        "size_bytes": size,
    }


def db_info(document: dict[str, Any]) -> None:
    """``db info``: the path, schema version, size, rows per table and the price cache."""
    versions = document["migrations"]
    price_cache = document["price_cache"]
    say(f"database        {document['path']}")
    say(f"schema version  {len(versions)} ({versions[-1]})")
    say(f"size            {document['size_bytes'] / 1024:.1f} KiB")
    for table, count in document["rows"].items():
        say(f"  {table:<22} {count:>10}")
    say(f"price cache     {price_cache['bars']} bars of {price_cache['tickers']} tickers")


def db_check_document(problems: dict[str, list[Any]]) -> dict[str, Any]:
    """``db check --json``: ``ok`` and what each check found."""
    return {"ok": not any(problems.values()), **problems}


def db_check(problems: dict[str, list[Any]]) -> None:
    """``db check``: one line per check, ``ok`` or what it found."""
    for name, rows in problems.items():
        text = "ok" if not rows else str(rows)
        if name == "future_dated" and rows:
            shown = ", ".join(f"{r['ticker']} {r['analysis_date']}" for r in rows)
            text = f"{len(rows)} dated after the current market date: {shown}"
        say(f"{name:<12} {text}")


def db_migrated(path: Path, versions: list[str]) -> None:
    """``db migrate``: the schema version the database is at now."""
    say(f"{path}: schema version {len(versions)} ({versions[-1]})")


def db_vacuumed(path: Path, sizes: dict[str, int]) -> None:
    """``db vacuum``: the file's size before and after."""
    before, after = sizes["bytes_before"] / 1024, sizes["bytes_after"] / 1024
    say(f"{path}: {before:.1f} KiB before, {after:.1f} KiB after")


def db_prune_report(report: DbPrune) -> None:
    """What ``db prune`` deleted (or would delete) and what the foreign keys did with it."""
    lines = []
    if report.demo:
        jobs = report.demo_jobs.job_ids if report.demo_jobs else []
        job_rows = report.demo_jobs.details_deleted if report.demo_jobs else 0
        job_links = report.demo_jobs.watchlist_unlinked if report.demo_jobs else 0
        its = "its" if report.demo_results == 1 else "their"
        lines += [
            f"{'Would delete' if report.dry_run else 'Deleted'}"
            f" {plural(report.demo_results, 'demo result')} with {its} raw data"
            f" ({byte_size(report.demo_raw_bytes)})",
            f"  and {plural(len(jobs), 'finished demo job')}{id_list(jobs)} with"
            f" {'its' if len(jobs) == 1 else 'their'} {plural(job_rows, 'stock row')}"
            " (ON DELETE CASCADE)",
            f"  {plural(report.demo_watchlist_unlinked, 'watchlist row')} lose their"
            f" last-result link and {job_links} their last-job link (set to NULL)",
        ]
        if report.demo_details_unlinked:
            lines.append(
                f"  {plural(report.demo_details_unlinked, 'stock row')} of other jobs lose"
                " their result link (result_id set to NULL)"
            )
    if report.future_after is not None:
        jobs = report.future_job_ids
        lines += [
            f"{'Would delete' if report.dry_run else 'Deleted'}"
            f" {plural(report.future_results, 'result')} dated after the market date"
            f" {report.future_after}, with their raw data ({byte_size(report.future_raw_bytes)})",
            f"  {plural(report.future_details_failed, 'stock row')} that wrote them become"
            f" failed (bad_data), in {plural(len(jobs), 'job')}{id_list(jobs)}",
            f"  {plural(report.future_watchlist_unlinked, 'watchlist row')} lose their"
            " last-result link (set to NULL)",
        ]
    if report.raw_before is not None:
        lines.append(
            f"{'Would drop' if report.dry_run else 'Dropped'} the raw data of"
            f" {plural(report.raw_results, 'result')} with a market date before"
            f" {report.raw_before} ({byte_size(report.raw_bytes)}); the results stay"
        )
    verb = "Would delete" if report.dry_run else "Deleted"
    if report.prices_unused_before is not None:
        lines.append(
            f"{verb} the cached prices of {plural(report.price_series, 'ticker')}"
            f" not fetched since {report.prices_unused_before}"
            f" ({plural(report.price_series_bars, 'bar')})"
        )
    if report.prices_before is not None:
        lines.append(
            f"{verb} {plural(report.price_old_bars, 'cached bar')} dated before"
            f" {report.prices_before}"
        )
        if report.price_series_emptied:
            lines.append(
                f"  which leaves {plural(report.price_series_emptied, 'ticker')} with no"
                " cached bar: fetched whole again if ever asked for"
            )
    for line in lines:
        say(line)
    if report.dry_run:
        say("Dry run: nothing was changed.")
    else:
        say("`stockscan db vacuum` gives the freed space back to the disk.")


def db_import_report(legacy_report: LegacyReport) -> None:
    """What ``db import-legacy`` read, imported, merged, repaired and left out (or would)."""
    report = legacy_report.as_json()
    would = "would be " if report["dry_run"] else ""
    w, j, r, t = report["watchlist"], report["jobs"], report["results"], report["totals"]
    b = report["bytes"]
    unchanged = "unchanged" if b["legacy_before"] == b["legacy_after"] else "SIZE CHANGED"
    lines = [
        ("Dry run, nothing written: " if report["dry_run"] else "Imported ")
        + f"{report['legacy_path']} into {report['database']}",
        f"  read         {t['rows_read']} rows: {w['read']} watchlist, {j['read']} jobs,"
        f" {r['read']} results",
        f"  watchlist    {w['imported']} {would}imported, {w['already_present']} already there,"
        f" {w['merged_duplicates']} merged duplicates, {w['invalid']} invalid symbols"
        + (f" ({', '.join(w['invalid_symbols'])})" if w["invalid_symbols"] else ""),
        f"  jobs         {j['imported']} {would}imported ({j['interrupted']} never finished:"
        f" interrupted), {j['already_present']} already there, {j['unimportable']} without id",
        f"  results      {r['imported']} {would}imported for {r['tickers']} tickers"
        + (f" into job {report['job_id']}" if report["job_id"] is not None else "")
        + f", {r['merged_duplicates']} duplicates merged (newest kept),"
        f" {r['already_imported']} already imported, {r['kept_existing']} kept stockscan's own",
    ]
    if r["unimportable"]:
        reasons = ", ".join(f"{k} {v}" for k, v in r["unimportable_reasons"].items())
        lines.append(f"  not imported {r['unimportable']} results ({reasons})")
    if report["repaired"]:
        repairs = ", ".join(f"{k} {v}" for k, v in report["repaired"].items())
        lines.append(f"  repaired     {t['repaired']} values: {repairs}")
    lines += [
        f"  orphans      {r['orphans']} results whose old job no longer exists"
        " (imported like the rest)",
        f"  raw data     {r['invalid_json']} not valid JSON, kept as text and flagged",
        f"  users        {report['users']['note']}",
        f"  bytes        old file {b['legacy_before']} -> {b['legacy_after']} ({unchanged}),"
        f" database {b['database_before']} -> {b['database_after']}",
    ]
    if report["duplicates_file"]:
        lines.append(
            f"  written      {report['duplicates_written']} rows not imported, with their"
            f" reasons, to {report['duplicates_file']}"
        )
    lines += [f"  note         {note}" for note in report["notes"]]
    for line in lines:
        say(line)
