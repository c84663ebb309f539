import type { Migration } from '../lib/pg-migrations.js';
import { HISTORY_INDEXES } from './history.js';

/**
 * The decision store's tables (`postgres.ts`), kept here as strings so they ship inside the
 * build. Never edit a released migration: append a new version. Timestamps are `bigint` ms
 * since the epoch, as the port speaks them; durations are whole ms.
 */
export const STORE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'create sessions',
    sql: `
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
`,
  },
  {
    version: 2,
    name: 'add decision sources and authorization details',
    // Decisions made before this version all came from the authorization service.
    sql: `
ALTER TABLE sessions
  ADD COLUMN decision_source text
    CHECK (decision_source IN ('service', 'cache', 'offline_last_known')),
  ADD COLUMN authorization_reference text,
  ADD COLUMN allowed_evses jsonb,
  ADD COLUMN display_text jsonb;
UPDATE sessions SET decision_source = 'service' WHERE decision <> 'pending';
`,
  },
  {
    version: 3,
    name: 'add the client of each session',
    sql: `ALTER TABLE sessions ADD COLUMN client_id text;`,
  },
  {
    // The stored share of POST → 202, and the indexes of the console's history. The indexes are
    // built inside the migration's transaction, which blocks writes to the tables meanwhile
    // (docs/operations.md gives the time at a million sessions).
    version: 4,
    name: 'history of the operator console',
    sql: `
ALTER TABLE sessions ADD COLUMN accept_ms integer;
${HISTORY_INDEXES}`,
  },
];
