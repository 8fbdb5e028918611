"""``jobs``: a finished job's summary, the job listing, one job in full, its JSON document
and what ``jobs prune`` did."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stockscan.render.base import (
    SOURCE_NOTES,
    fmt,
    id_list,
    local_time,
    plural,
    say,
    table,
    warning,
)
from stockscan.request import stored_position

if TYPE_CHECKING:
    from stockscan.jobs import JobOutcome
    from stockscan.retention import JobPrune


def job_summary(
    job: Mapping[str, Any], stocks: Sequence[Mapping[str, Any]], *, with_table: bool = True
) -> None:
    """The table of a finished job's results, best score first (unless not ``with_table``),
    then the counts and what was not analysed."""
    done = [s for s in stocks if s["score"] is not None and with_table]
    done.sort(key=lambda s: (-s["score"], s["ticker"]))
    columns = ["ticker", "date", "score", "verdict", "side", "entry", "stop", "target", "qty"]
    if job["source"] == "demo":
        columns.append("data")
    params = job["params"]
    rows = [
        [
            s["ticker"],
            s["analysis_date"],
            f"{s['score']:.1f}",
            s["verdict"],
            "avoid" if _avoided(s, params) else s["side"],
            *_levels(s, params),
            "-" if s["quantity"] is None else str(s["quantity"]),
            *(["demo"] if job["source"] == "demo" else []),
        ]
        for s in done
    ]
    if rows:
        title = f"Job {job['id']} · source {SOURCE_NOTES.get(job['source'], job['source'])}"
        table(columns, rows, right={"score", "entry", "stop", "target", "qty"}, title=title)
    say(counts_line(job))
    notes: dict[str, int] = {}
    for s in stocks:
        if s.get("note"):
            notes[s["note"]] = notes.get(s["note"], 0) + 1
    for note, count in sorted(notes.items()):
        say(f"  {count} unchanged: {note}")
    problems(stocks)


def _avoided(stock: Mapping[str, Any], params: Mapping[str, Any]) -> bool:
    """A short verdict the job does not trade (long only, or not shortable)."""
    held = stored_position(stock["ticker"], stock, params) if stock.get("side") else None
    return held is not None and held.action == "avoid"


def _levels(stock: Mapping[str, Any], params: Mapping[str, Any]) -> list[str]:
    """Entry, stop and target as a job's tables show them: none for a plan it avoids."""
    if _avoided(stock, params):
        return ["-", "-", "-"]
    return [fmt(stock["entry"]), fmt(stock["stop"]), fmt(stock["target"])]


def problems(stocks: Sequence[Mapping[str, Any]]) -> None:
    """Failed and skipped stocks, each on a line of its own with its reason."""
    for s in stocks:
        if s["error_kind"]:
            say(f"  {s['status']} {s['ticker']}: {s['error_kind']}: {s['error_message']}")


def counts_line(job: Mapping[str, Any]) -> str:
    parts = [f"{job['succeeded']} succeeded", f"{job['failed']} failed"]
    if job["skipped"]:
        parts.append(f"{job['skipped']} skipped")
    return f"Job {job['id']} {job['status']}: " + ", ".join(parts) + f" of {job['total']}"


def jobs_table(jobs: Sequence[Mapping[str, Any]]) -> None:
    columns = ["id", "status", "source", "stocks", "ok", "failed", "skipped", "created"]
    rows = [
        [
            str(job["id"]),
            job.get("effective_status", job["status"]),
            job["source"],
            str(job["total"]),
            str(job["succeeded"]),
            str(job["failed"]),
            str(job["skipped"]),
            local_time(job["created_at"]),
        ]
        for job in jobs
    ]
    table(columns, rows, right={"id", "stocks", "ok", "failed", "skipped"})


def job_state(job: Mapping[str, Any]) -> str:
    """A job's status as true now (``stockscan.jobs.with_liveness``): a job stored running
    whose owner is gone is interrupted, and says how to continue it."""
    if job.get("owner_alive") is True:
        return f"running (pid {job['owner_pid']})"
    if job.get("owner_alive") is False:
        return (
            f"interrupted (owner pid {job['owner_pid']} is gone; the same command or"
            f" `stockscan jobs resume {job['id']}` continues it)"
        )
    return str(job["status"])


def job_detail(job: Mapping[str, Any], stocks: Sequence[Mapping[str, Any]]) -> None:
    """``jobs show``: a header with everything about the job, then one row per stock."""
    params = job["params"]
    lines = [
        f"Job {job['id']}: {job_state(job)}",
        f"  source      {SOURCE_NOTES.get(job['source'], job['source'])}",
        f"  parameters  capital {params['capital']:g}, risk {params['risk_pct']:g}%"
        + (f", data dir {params['data_dir']}" if params.get("data_dir") else "")
        + _plan_settings(params)
        if "capital" in params
        # a job imported from the old system, or the import itself: no capital was given
        else "  parameters  " + (", ".join(f"{k} {v}" for k, v in params.items()) or "-"),
        f"  run date    {job['run_date']}",
        f"  created     {local_time(job['created_at'])}",
        f"  started     {local_time(job['started_at'])}  (attempt {job['attempts']})",
        f"  finished    {local_time(job['finished_at'])}",
        f"  owner       pid {job['owner_pid']} on {job['owner_host']}"
        if job["owner_pid"] is not None
        else "  owner       -",
        f"  counts      {job['succeeded']} succeeded, {job['failed']} failed, "
        f"{job['skipped']} skipped, of {job['total']}",
    ]
    if job["message"]:
        lines.append(f"  note        {job['message']}")
    for line in lines:
        say(line)
    columns = ["#", "ticker", "status", "date", "score", "verdict", "entry", "stop", "target",
               "qty"]  # fmt: skip
    rows = [
        [
            str(s["position"]),
            s["ticker"],
            s["status"],
            s["analysis_date"] or "-",
            "-" if s["score"] is None else f"{s['score']:.1f}",
            s["verdict"] or "-",
            *_levels(s, params),
            "-" if s["quantity"] is None else str(s["quantity"]),
        ]
        for s in stocks
    ]
    table(columns, rows, right={"#", "score", "entry", "stop", "target", "qty"})
    # Errors get whole lines of their own: they are what a user came to read.
    problems(stocks)


def _plan_settings(params: Mapping[str, Any]) -> str:
    """The plan's settings of a job (none for a job from before them)."""
    if "sides" not in params:
        return ""
    text = f", sides {params['sides']}, cap {params['max_position_pct']:g}%"
    if params["sides"] == "both":
        text += f", {plural(len(params.get('shortable', [])), 'shortable stock')}"
    if params.get("bands") is not None:
        text += f", {plural(len(params['bands']), 'price band')}"
    return text


def job_prune_report(report: JobPrune) -> None:
    """What ``jobs prune`` deleted (or would delete) and what the foreign keys did with it."""
    cutoff = local_time(report.cutoff)
    if not report.job_ids:
        say(f"No finished job finished before {cutoff}: nothing to prune.")
        return
    verb = "Would delete" if report.dry_run else "Deleted"
    lines = [
        f"{verb} {plural(len(report.job_ids), 'finished job')}{id_list(report.job_ids)},"
        f" finished before {cutoff}:",
        f"  {plural(report.details_deleted, 'stock row')} of these jobs go with them"
        " (ON DELETE CASCADE)",
        f"  {plural(report.results_unlinked, 'result')} they wrote stay, with no job"
        " (job_id set to NULL)",
        f"  {plural(report.watchlist_unlinked, 'watchlist row')} lose their last-job link"
        " (last_job_id set to NULL)",
    ]
    if not report.dry_run:
        lines.append(f"  {plural(report.lock_files_removed, 'lock file')} removed")
    for line in lines:
        say(line)
    if report.dry_run:
        say("Dry run: nothing was changed.")


def lock_files_left(report: JobPrune) -> None:
    """The lock files of deleted jobs that could not be removed (``jobs prune``, ``db prune
    --demo``), in one warning line; nothing when there are none."""
    left = report.lock_files_left
    if not left:
        return
    folder = str(Path(left[0]).parent)
    they = "it is" if len(left) == 1 else "they are"
    warning(
        f"{plural(len(left), 'lock file')} of deleted jobs could not be removed from {folder}"
        f" ({report.lock_files_error}); {they} harmless (job ids are never reused) and may"
        " be deleted by hand"
    )


def outcome_json(outcome: JobOutcome) -> dict[str, Any]:
    """The shape of ``jobs show ID --json`` and ``analyze --json``: {"job": …, "stocks": […]}."""
    job = outcome.job
    stocks = []
    for stock in outcome.stocks:
        held = stored_position(stock["ticker"], stock, job["params"] or {})
        stocks.append({**stock, "position": None if held is None else held.as_json()})
    return {"job": job, "stocks": stocks}


def jobs_document(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``jobs list --json``: the jobs, each with its parameters decoded."""
    return {"jobs": rows}
