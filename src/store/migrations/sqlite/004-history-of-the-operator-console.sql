-- The stored share of POST -> 202, and the indexes of the console's history; the schema
-- (sqlite-schema.sql) then creates whatever else is missing.
ALTER TABLE sessions ADD COLUMN accept_ms INTEGER;
CREATE INDEX IF NOT EXISTS sessions_accepted ON sessions (accepted_at, accept_ms);
CREATE INDEX IF NOT EXISTS sessions_decided ON sessions (decided_at, decision, auth_latency_ms,
  accepted_at) WHERE decided_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_undecided ON sessions (accepted_at) WHERE decided_at IS NULL;
CREATE INDEX IF NOT EXISTS sessions_delivered ON sessions (delivered_at, accepted_at)
  WHERE delivered_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS sessions_dead_lettered ON sessions (last_attempt_at, accepted_at)
  WHERE callback_state = 'dead_lettered';
CREATE INDEX IF NOT EXISTS callback_retries ON callback_attempts (started_at) WHERE attempt > 1;
