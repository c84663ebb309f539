-- The sessions and their callback attempts. Timestamps are bigint ms since the epoch, as the
-- port speaks them; durations are whole ms.
CREATE TABLE sessions (
  request_id text PRIMARY KEY,
  station_id text NOT NULL,
  token_hash text NOT NULL,
  callback_url text NOT NULL,
  accepted_at bigint NOT NULL,
  idempotency_key text,
  request_hash text,
  decision text NOT NULL DEFAULT 'pending'
    CHECK (decision IN ('pending', 'allowed', 'not_allowed', 'unknown', 'invalid')),
  reason text,
  auth_latency_ms integer,
  decided_at bigint,
  callback_state text NOT NULL DEFAULT 'pending'
    CHECK (callback_state IN ('pending', 'retrying', 'delivered', 'gone', 'dead_lettered')),
  callback_attempts integer NOT NULL DEFAULT 0,
  last_attempt_at bigint,
  delivered_at bigint,
  next_attempt_at bigint
);
CREATE UNIQUE INDEX sessions_idempotency_key ON sessions (idempotency_key)
  WHERE idempotency_key IS NOT NULL;
CREATE TABLE callback_attempts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  request_id text NOT NULL REFERENCES sessions (request_id) ON DELETE CASCADE,
  attempt integer NOT NULL,
  started_at bigint NOT NULL,
  duration_ms integer NOT NULL,
  status_code integer,
  error text,
  response_snippet text
);
CREATE INDEX callback_attempts_by_session ON callback_attempts (request_id, started_at, id);
