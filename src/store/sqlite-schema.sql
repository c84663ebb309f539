-- The embedded decision store's schema as it is now (SCHEMA_VERSION in sqlite.ts): it creates a
-- new file, and whatever a migrated file still lacks. Every statement is IF NOT EXISTS.
-- STRICT tables reject a mistyped value loudly; durations, which `performance.now()` makes
-- fractional, are therefore rounded to whole ms before they are written. Times are epoch ms.
CREATE TABLE IF NOT EXISTS sessions (
  request_id TEXT PRIMARY KEY,
  station_id TEXT NOT NULL,
  token_hash TEXT NOT NULL,
  callback_url TEXT NOT NULL,
  accepted_at INTEGER NOT NULL,
  idempotency_key TEXT UNIQUE,
  request_hash TEXT,
  decision TEXT NOT NULL DEFAULT 'pending'
    CHECK (decision IN ('pending', 'allowed', 'not_allowed', 'unknown', 'invalid')),
  reason TEXT,
  auth_latency_ms INTEGER,
  decided_at INTEGER,
  decision_source TEXT CHECK (decision_source IN ('service', 'cache', 'offline_last_known')),
  authorization_reference TEXT,
  allowed_evses TEXT,
  display_text TEXT,
  callback_state TEXT NOT NULL DEFAULT 'pending'
    CHECK (callback_state IN ('pending', 'retrying', 'delivered', 'gone', 'dead_lettered')),
  callback_attempts INTEGER NOT NULL DEFAULT 0,
  last_attempt_at INTEGER,
  delivered_at INTEGER,
  next_attempt_at INTEGER,
  client_id TEXT,
  accept_ms INTEGER
) STRICT;
CREATE TABLE IF NOT EXISTS callback_attempts (
  id INTEGER PRIMARY KEY,
  request_id TEXT NOT NULL REFERENCES sessions (request_id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL,
  started_at INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  status_code INTEGER,
  error TEXT,
  response_snippet TEXT
) STRICT;
CREATE INDEX IF NOT EXISTS callback_attempts_by_session
  ON callback_attempts (request_id, started_at, id);
-- The indexes of the console's history (history.ts), one per statement, each covering the
-- columns its statement reads, and partial where only some sessions matter, so that the write
-- path pays for little. The same as PostgreSQL's (migrations/postgres/004-…).
CREATE INDEX IF NOT EXISTS sessions_accepted ON sessions (accepted_at, accept_ms);
CREATE INDEX IF NOT EXISTS sessions_decided ON sessions (decided_at, decision, auth_latency_ms,
  accepted_at) WHERE decided_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_undecided ON sessions (accepted_at) WHERE decided_at IS NULL;
CREATE INDEX IF NOT EXISTS sessions_delivered ON sessions (delivered_at, accepted_at)
  WHERE delivered_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_dead_lettered ON sessions (last_attempt_at, accepted_at)
  WHERE callback_state = 'dead_lettered';
CREATE INDEX IF NOT EXISTS callback_retries ON callback_attempts (started_at) WHERE attempt > 1;
