"""What an old row becomes: pure functions of its values, no database and no clock.

``check_result`` maps one old ``analysis_results`` row and ``check_job`` one old
``analysis_jobs`` row to stockscan's values, repairing what can be repaired without inventing
anything and naming each repair (the report counts them). The importer only writes what these
return.
"""

from __future__ import annotations

import base64
import bisect
import datetime as dt
import hashlib
import json
import math
from dataclasses import dataclass, field
from typing import Any

from stockscan.errors import UsageError
from stockscan.tickers import normalise
from stockscan.vocab import VERDICTS

RESULT_STATUSES = {"completed": "complete", "complete": "complete", "partial": "partial"}
SOURCES = {"yahoo": "yahoo", "yfinance": "yahoo", "demo": "demo", "csv": "csv"}
# Old job statuses that are an end state; every other one (processing, pending, NULL, …) was
# never going to finish once the old service stopped.
FINISHED_JOB_STATUSES = {"completed": "succeeded", "complete": "succeeded", "failed": "failed"}
UNKNOWN_SOURCE_REPAIR = "results.analysis_source unrecognised -> unknown"


def timestamp(value: Any) -> str | None:
    """An old timestamp as ISO-8601 UTC text, or None when there is none or it cannot be read.

    Naive timestamps are UTC (what SQLite's CURRENT_TIMESTAMP and datetime.utcnow() write);
    numbers are Unix seconds (milliseconds when too large to be seconds).
    """
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value / 1000 if abs(value) > 1e11 else value
            moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
        elif isinstance(value, str) and value.strip():
            moment = dt.datetime.fromisoformat(value.strip())
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds")


def number(value: Any) -> float | None:
    """A finite number, or None for NULL; ValueError for anything else."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(value)
    parsed = float(value.strip()) if isinstance(value, str) else float(value)
    if not math.isfinite(parsed):
        raise ValueError(value)
    return parsed


def _not_utf8(text: str) -> bool:
    """True when ``text`` carries bytes of the old file that were not UTF-8 (as surrogates)."""
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def clean(text: str) -> str:
    """Text safe to store: bytes that were not UTF-8 in the old file become U+FFFD."""
    if not _not_utf8(text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:40] + "…"


def jsonable(value: Any) -> Any:
    """An old column value in an NDJSON line, exactly: BLOBs as base64, odd floats as text."""
    if isinstance(value, bytes):
        return {"base64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


def _side(entry: float | None, stop: float | None) -> str:
    """The side of the old trade plan, from where its stop sits: below the entry is a long
    trade, above it a short one. No entry or stop, or a stop at the entry, is no trade."""
    if entry is None or stop is None or entry == stop:
        return "none"
    return "long" if stop < entry else "short"


@dataclass
class CheckedResult:
    """One old result row, checked: either its stockscan values or why it cannot be imported."""

    ticker: str | None = None
    market_date: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    score: float | None = None
    verdict: str | None = None
    side: str | None = None
    entry: float | None = None
    stop: float | None = None
    target: float | None = None
    source: str | None = None
    status: str | None = None
    repairs: list[str] = field(default_factory=list)
    problem: str | None = None  # a short kind, counted in the report
    problem_text: str | None = None  # the exact value, for the NDJSON file


def check_result(row: dict[str, Any]) -> CheckedResult:
    """Map one old ``analysis_results`` row to stockscan's values, repairing what can be
    repaired without inventing anything; the first problem found wins."""
    out = CheckedResult()

    def fail(kind: str, text: str) -> CheckedResult:
        out.problem, out.problem_text = kind, text
        return out

    out.created_at = timestamp(row["created_at"])
    out.updated_at = timestamp(row["updated_at"])
    if out.created_at is None:
        if out.updated_at is None:
            return fail("created_at_missing", f"no usable created_at ({_shown(row['created_at'])})")
        out.created_at = out.updated_at
        out.repairs.append("results.created_at NULL or unreadable -> updated_at")
    if out.updated_at is None:
        out.updated_at = out.created_at
        out.repairs.append("results.updated_at NULL -> created_at")
    out.market_date = out.created_at[:10]

    raw_ticker = "" if row["ticker"] is None else str(row["ticker"])
    if not raw_ticker.strip():
        raw_ticker = "" if row["symbol"] is None else str(row["symbol"])
        if not raw_ticker.strip():
            return fail("ticker_missing", "no ticker and no symbol")
        out.repairs.append("results.ticker NULL -> symbol")
    try:
        out.ticker = normalise(raw_ticker)
    except UsageError:
        return fail("ticker_invalid", f"invalid ticker {_shown(raw_ticker)}")

    try:
        out.score = number(row["score"])
    except (ValueError, TypeError):
        return fail("score_not_a_number", f"score {_shown(row['score'])} is not a number")
    if out.score is None:
        return fail("score_null", "score is NULL")
    if not 0 <= out.score <= 100:
        return fail("score_out_of_range", f"score {out.score:g} is outside 0-100")

    verdict = row["verdict"]
    if verdict is None:
        return fail("verdict_null", "verdict is NULL")
    spelled = str(verdict).strip().upper().replace(" ", "_").replace("-", "_")
    if spelled not in VERDICTS:
        return fail("verdict_unknown", f"verdict {_shown(verdict)} is not one of {VERDICTS}")
    if spelled != verdict:
        out.repairs.append("results.verdict spelling")
    out.verdict = spelled

    status = row["status"]
    if status is None:
        out.status = "complete"
        out.repairs.append("results.status NULL -> complete")
    elif str(status).strip().lower() in RESULT_STATUSES:
        out.status = RESULT_STATUSES[str(status).strip().lower()]
    else:
        return fail("status_unknown", f"status {_shown(status)} is not completed or partial")

    source = row["analysis_source"]
    if source is None:
        out.source = "unknown"
        out.repairs.append("results.analysis_source NULL -> unknown")
    elif str(source).strip().lower() in SOURCES:
        out.source = SOURCES[str(source).strip().lower()]
    else:
        out.source = "unknown"
        out.repairs.append(UNKNOWN_SOURCE_REPAIR)

    try:
        out.entry, out.stop, out.target = (number(row[k]) for k in ("entry", "stop", "target"))
    except (ValueError, TypeError):
        plan = {k: row[k] for k in ("entry", "stop", "target")}
        return fail("plan_not_a_number", f"entry/stop/target {_shown(plan)} are not numbers")
    out.side = _side(out.entry, out.stop)
    return out


@dataclass
class CheckedJob:
    """One old job row, checked. ``window`` is what the old job could have written (results
    created from its start to its end), known even when the job itself cannot be imported;
    ``values`` is None when it cannot (no job id), else the keyword arguments of
    ``store.insert_legacy_job``."""

    window: tuple[str, str | None] | None
    values: dict[str, Any] | None
    repairs: list[str] = field(default_factory=list)
    size: int = 0  # bytes of old text it carries, for the batches


def check_job(row: dict[str, Any], *, now: str) -> CheckedJob:
    """Map one old ``analysis_jobs`` row to a stockscan job; ``now`` is the import time, the
    created_at of a job that has no time at all."""
    created_at = timestamp(row["created_at"])
    started_at = timestamp(row["started_at"])
    finished_at = timestamp(row["completed_at"])
    window = None
    if created_at or started_at:
        window = (min(t for t in (created_at, started_at) if t), finished_at)
    legacy_id = row["job_id"]
    if isinstance(legacy_id, bytes):
        legacy_id = legacy_id.hex()
    if legacy_id is None or not str(legacy_id).strip():
        return CheckedJob(window, None)
    legacy_id = clean(str(legacy_id))
    repairs: list[str] = []
    if created_at is None:
        created_at = started_at or finished_at
        repairs.append("jobs.created_at NULL -> started_at or completed_at")
        if created_at is None:
            created_at = now
            repairs[-1] = "jobs.created_at NULL -> import time"
    if started_at is None:
        started_at = created_at
        repairs.append("jobs.started_at NULL -> created_at")
    total = row["total"]
    try:
        count = number(total)
    except (ValueError, TypeError):
        count = None
    if count is None or count < 0 or count != int(count):
        repairs.append("jobs.total NULL or invalid -> 0")
        count = 0
    errors = row["errors"]
    errors_text = clean(str(errors)).strip() if errors is not None else ""
    has_errors = errors_text not in ("", "[]", "{}", "null")
    old_status = row["status"]
    spelled = str(old_status).strip().lower() if old_status is not None else None
    notes: list[str] = []
    if spelled in FINISHED_JOB_STATUSES:
        status = FINISHED_JOB_STATUSES[spelled]
        if status == "succeeded" and has_errors:
            status = "partial"  # it finished, and its errors say some stocks failed
    else:
        status = "interrupted"
        if old_status is None:
            repairs.append("jobs.status NULL -> interrupted")
        shown = "no status" if old_status is None else f"status {_shown(old_status)}"
        notes.append(
            f"imported from the old system with {shown}: it never finished and its process"
            " is long gone; old jobs cannot be resumed"
        )
    if has_errors:
        notes.append(f"old errors: {errors_text}")
    values = {
        "legacy_job_id": legacy_id,
        "request_key": hashlib.sha256(f"legacy-job:{legacy_id}".encode()).hexdigest(),
        "status": status,
        "params": {
            "legacy_status": jsonable(old_status),
            "legacy_total": jsonable(total),
            "legacy_completed": jsonable(row["completed"]),
        },
        "run_date": created_at[:10],
        "total": int(count),
        "message": "; ".join(notes) or None,
        "created_at": created_at,
        "started_at": started_at,
        "finished_at": finished_at,
    }
    return CheckedJob(window, values, repairs, len(errors_text))


class JobWindows:
    """What the old jobs could have written: results created from a job's start to its end
    (None: it never ended). A result outside every window is an orphan: the old cleanup
    deleted its job."""

    def __init__(self) -> None:
        self._windows: list[tuple[str, str | None]] = []
        self._starts: list[str] = []

    def add(self, window: tuple[str, str | None]) -> None:
        self._windows.append(window)

    def merge(self) -> None:
        """Merge overlapping windows; call once, after the last ``add``."""
        merged: list[tuple[str, str | None]] = []
        for start, end in sorted(self._windows, key=lambda w: w[0]):
            if merged and (merged[-1][1] is None or start <= merged[-1][1]):
                last_start, last_end = merged[-1]
                wider = None if end is None or last_end is None else max(end, last_end)
                merged[-1] = (last_start, wider)
            else:
                merged.append((start, end))
        self._windows = merged
        self._starts = [start for start, _ in merged]

    def is_orphan(self, created_at: str) -> bool:
        index = bisect.bisect_right(self._starts, created_at) - 1
        if index < 0:
            return True
        end = self._windows[index][1]
        return end is not None and created_at > end


def raw_payload(raw: Any, sqlite_says_valid: bool) -> tuple[str, bool]:
    """(payload, valid) for an old ``raw_data`` value: valid JSON text as it is; anything else
    wrapped so that the text survives and the payload says it was not JSON."""
    if isinstance(raw, str):
        if sqlite_says_valid and not _not_utf8(raw):
            return raw, True
        # Bytes that were not UTF-8 come out as \udcXX escapes: nothing is lost.
        wrapped: dict[str, Any] = {"legacy_text": raw, "valid_json": False}
    elif isinstance(raw, bytes):
        wrapped = {"legacy_base64": base64.b64encode(raw).decode("ascii"), "valid_json": False}
    elif raw is None:
        wrapped = {"legacy_text": None, "valid_json": False}
    else:  # a number stored in the TEXT column
        wrapped = {"legacy_text": str(raw), "valid_json": False}
    return json.dumps(wrapped, separators=(",", ":")), False
