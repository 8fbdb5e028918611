-- Generated from stockscan/migrations.py by `stockscan db schema`. Do not edit:
-- add a migration and regenerate. tests/test_db.py fails when this file is stale.

CREATE TABLE _migrations ( name TEXT PRIMARY KEY, applied_at TEXT NOT NULL);

CREATE TABLE analysis_jobs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    request_key    TEXT    NOT NULL,
    status         TEXT    NOT NULL
                   CHECK (status IN ('running', 'interrupted', 'succeeded', 'partial', 'failed')),
    source         TEXT    NOT NULL CHECK (source IN ('yahoo', 'demo', 'csv', 'legacy')),
    params         TEXT    NOT NULL CHECK (json_valid(params)),
    run_date       TEXT    NOT NULL,
    total          INTEGER NOT NULL CHECK (total >= 0),
    succeeded      INTEGER NOT NULL DEFAULT 0,
    failed         INTEGER NOT NULL DEFAULT 0,
    skipped        INTEGER NOT NULL DEFAULT 0,
    attempts       INTEGER NOT NULL DEFAULT 1,
    owner_pid      INTEGER,
    owner_host     TEXT,
    message        TEXT,
    created_at     TEXT    NOT NULL,
    started_at     TEXT    NOT NULL,
    finished_at    TEXT,
    legacy_job_id  TEXT    CHECK (legacy_job_id IS NULL OR source = 'legacy')
);

CREATE TABLE analysis_jobs_details (
    id             INTEGER PRIMARY KEY,
    job_id         INTEGER NOT NULL REFERENCES analysis_jobs (id) ON DELETE CASCADE,
    ticker         TEXT    NOT NULL,
    position       INTEGER NOT NULL,
    status         TEXT    NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped')),
    attempts       INTEGER NOT NULL DEFAULT 0,
    error_kind     TEXT,
    error_message  TEXT,
    result_id      INTEGER REFERENCES analysis_results (id) ON DELETE SET NULL,
    quantity       INTEGER,
    started_at     TEXT,
    finished_at    TEXT, note TEXT,
    CONSTRAINT uq_details_job_ticker UNIQUE (job_id, ticker)
);

CREATE TABLE analysis_raw_data (
    id          INTEGER PRIMARY KEY,
    result_id   INTEGER NOT NULL UNIQUE REFERENCES analysis_results (id) ON DELETE CASCADE,
    payload     TEXT    NOT NULL CHECK (json_valid(payload)),
    created_at  TEXT    NOT NULL
);

CREATE TABLE analysis_results (
    id                INTEGER PRIMARY KEY,
    job_id            INTEGER REFERENCES analysis_jobs (id) ON DELETE SET NULL,
    ticker            TEXT    NOT NULL,
    analysis_date     TEXT    NOT NULL
                      CHECK (analysis_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    status            TEXT    NOT NULL CHECK (status IN ('complete', 'partial')),
    score             REAL    NOT NULL CHECK (score BETWEEN 0 AND 100),
    verdict           TEXT    NOT NULL
                      CHECK (verdict IN ('STRONG_BUY', 'BUY', 'HOLD', 'SELL', 'STRONG_SELL')),
    side              TEXT    NOT NULL CHECK (side IN ('long', 'short', 'none')),
    close             REAL,
    entry             REAL,
    stop              REAL,
    target            REAL,
    reward_risk       REAL,
    analysis_source   TEXT    NOT NULL
                      CHECK (analysis_source IN ('yahoo', 'demo', 'csv', 'unknown')),
    scoring_version   TEXT    NOT NULL,
    bars_used         INTEGER,
    created_at        TEXT    NOT NULL,
    updated_at        TEXT    NOT NULL,
    legacy_result_id  INTEGER, fetched_at TEXT, source_version TEXT, auto_adjust INTEGER CHECK (auto_adjust IN (0, 1)),
    CONSTRAINT ck_results_native_or_legacy CHECK (
        (legacy_result_id IS NULL AND scoring_version <> 'legacy'
         AND analysis_source <> 'unknown' AND close IS NOT NULL AND bars_used IS NOT NULL)
        OR (legacy_result_id IS NOT NULL AND scoring_version = 'legacy'))
);

CREATE TABLE price_bars (
    source       TEXT    NOT NULL,
    ticker       TEXT    NOT NULL,
    auto_adjust  INTEGER NOT NULL CHECK (auto_adjust IN (0, 1)),
    market_date  TEXT    NOT NULL
                 CHECK (market_date GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'),
    open         REAL    NOT NULL,
    high         REAL    NOT NULL,
    low          REAL    NOT NULL,
    close        REAL    NOT NULL,
    volume       REAL    NOT NULL,
    PRIMARY KEY (source, ticker, auto_adjust, market_date)
) WITHOUT ROWID;

CREATE TABLE price_fetches (
    source          TEXT    NOT NULL,
    ticker          TEXT    NOT NULL,
    auto_adjust     INTEGER NOT NULL CHECK (auto_adjust IN (0, 1)),
    fetched_at      TEXT    NOT NULL,
    newest_date     TEXT    NOT NULL,
    exchange_tz     TEXT,
    source_version  TEXT,
    PRIMARY KEY (source, ticker, auto_adjust)
) WITHOUT ROWID;

CREATE TABLE result_indicators (
    result_id          INTEGER PRIMARY KEY
                       REFERENCES analysis_results (id) ON DELETE CASCADE,
    sma_20             REAL,
    sma_50             REAL,
    sma_200            REAL,
    ema_20             REAL,
    rsi_14             REAL,
    macd               REAL,
    macd_signal        REAL,
    macd_hist          REAL,
    atr_14             REAL,
    bb_upper           REAL,
    bb_middle          REAL,
    bb_lower           REAL,
    adx_14             REAL,
    roc_20             REAL,
    volume_ratio_20    REAL,
    high_52w           REAL,
    low_52w            REAL,
    atr_pct            REAL,
    stop_pct           REAL,
    pct_from_52w_high  REAL
);

CREATE TABLE screens (
    name        TEXT PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 64),
    expression  TEXT NOT NULL CHECK (length(expression) > 0),
    sort        TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE watchlist (
    id                INTEGER PRIMARY KEY,
    ticker            TEXT NOT NULL UNIQUE,
    name              TEXT,
    added_at          TEXT NOT NULL,
    last_job_id       INTEGER REFERENCES analysis_jobs (id) ON DELETE SET NULL,
    last_result_id    INTEGER REFERENCES analysis_results (id) ON DELETE SET NULL,
    last_analyzed_at  TEXT,
    analysis_status   TEXT CHECK (analysis_status IN ('succeeded', 'failed', 'skipped'))
);

CREATE UNIQUE INDEX idx_jobs_active_request ON analysis_jobs (request_key)
    WHERE status IN ('running', 'interrupted');

CREATE INDEX idx_jobs_created ON analysis_jobs (created_at);

CREATE UNIQUE INDEX idx_jobs_legacy_job_id ON analysis_jobs (legacy_job_id) WHERE legacy_job_id IS NOT NULL;

CREATE INDEX idx_jobs_status ON analysis_jobs (status, id);

CREATE INDEX idx_details_job_status ON analysis_jobs_details (job_id, status);

CREATE INDEX idx_details_result ON analysis_jobs_details (result_id);

CREATE INDEX idx_results_date ON analysis_results (analysis_date);

CREATE INDEX idx_results_job ON analysis_results (job_id);

CREATE UNIQUE INDEX idx_results_ticker_date ON analysis_results (ticker, analysis_date);

CREATE INDEX idx_watchlist_last_job ON watchlist (last_job_id);

CREATE INDEX idx_watchlist_last_result ON watchlist (last_result_id);
