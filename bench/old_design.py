"""The three-table schema of the system stockscan replaces, as ../shared/seed describes it:
raw JSON inline, no job link, no unique constraint, no index. Shared by the benchmarks that
build old-design databases (bench/scale.py, bench/legacy.py)."""

OLD_SCHEMA = """
CREATE TABLE watchlist (id INTEGER PRIMARY KEY, symbol TEXT UNIQUE, name TEXT,
    user_id INTEGER, created_at TIMESTAMP);
CREATE TABLE analysis_jobs (job_id TEXT PRIMARY KEY, status TEXT, total INTEGER,
    completed INTEGER, errors TEXT, created_at TIMESTAMP, started_at TIMESTAMP,
    completed_at TIMESTAMP);
CREATE TABLE analysis_results (id INTEGER PRIMARY KEY, ticker TEXT, symbol TEXT, score REAL,
    verdict TEXT, entry REAL, stop REAL, target REAL, raw_data TEXT, analysis_source TEXT,
    status TEXT, created_at TIMESTAMP, updated_at TIMESTAMP);
"""
