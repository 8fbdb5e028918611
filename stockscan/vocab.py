"""The words the database stores, one spelling each. Imports nothing, so any module may use it
(a read command's start-up included, which must not load numpy).

The SQL CHECK constraints of the schema (``stockscan/migrations.py``, ``schema.sql``) spell the
same lists; ``tests/test_vocab.py`` reads them from a migrated database and holds them to these.
"""

from __future__ import annotations

from typing import Literal

Verdict = Literal["STRONG_BUY", "BUY", "HOLD", "SELL", "STRONG_SELL"]
VERDICTS: tuple[Verdict, ...] = ("STRONG_BUY", "BUY", "HOLD", "SELL", "STRONG_SELL")
BUY_SIDE: tuple[Verdict, ...] = ("STRONG_BUY", "BUY")
Side = Literal["long", "short", "none"]
SIDES: tuple[Side, ...] = ("long", "short", "none")

# Where prices come from (--source). A job imported from the old tool is labelled "legacy", a
# result whose old row named no source "unknown".
SourceName = Literal["yahoo", "demo", "csv"]
SOURCES: tuple[SourceName, ...] = ("yahoo", "demo", "csv")
REAL_SOURCES: tuple[SourceName, ...] = ("yahoo", "csv")  # market data, unlike demo
JOB_SOURCES = (*SOURCES, "legacy")
RESULT_SOURCES = (*SOURCES, "unknown")

JobStatus = Literal["running", "interrupted", "succeeded", "partial", "failed"]
JOB_STATUSES: tuple[JobStatus, ...] = ("running", "interrupted", "succeeded", "partial", "failed")
# A job that can still be resumed (whether it is running depends on its owner's lock).
ACTIVE_JOB_STATUSES: tuple[JobStatus, ...] = ("running", "interrupted")
TERMINAL_JOB_STATUSES: tuple[JobStatus, ...] = ("succeeded", "partial", "failed")

StockStatus = Literal["pending", "running", "succeeded", "failed", "skipped"]
STOCK_STATUSES: tuple[StockStatus, ...] = ("pending", "running", "succeeded", "failed", "skipped")
# How a stock ended (what the job counts, and a watchlist entry's last analysis_status).
COUNTED_STOCK_STATUSES: tuple[StockStatus, ...] = ("succeeded", "failed", "skipped")

# A result's bars: all final, or the last one still moving (--keep-partial).
RESULT_STATUSES = ("complete", "partial")
