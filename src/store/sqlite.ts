import { readFileSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { BUSY_TIMEOUT_MS, openSqlite, type Synchronous, settle } from '../lib/sqlite.js';
import { GroupCommit } from '../lib/group-commit.js';
import { loadMigrations } from '../lib/migration-files.js';
import { uuidv7Floor } from '../lib/ids.js';
import type {
  CallbackAttempt,
  CallbackState,
  CallbackStateUpdate,
  CreateSessionResult,
  Decision,
  DecisionInput,
  DecisionSource,
  DecisionStore,
  DisplayText,
  HistoryQuery,
  NewSession,
  SessionRecord,
} from './port.js';
import {
  assembleHistory,
  checkHistoryQuery,
  historyStatements,
  type HistoryRows,
} from './history.js';
import { FINISHED, CALLBACK_NOT_TERMINAL } from './sql.js';
import { NO_DETAILS, tooLate } from './port.js';

/**
 * The embedded-mode decision store: one SQLite file in WAL mode. The port's guarantees are
 * enforced by the SQL itself (a UNIQUE key, conditional UPDATEs), not by reads before writes,
 * so they hold even when several processes share the file. Writes are group-committed: those
 * asked for in the same turn of the event loop share one transaction (`lib/group-commit.ts`),
 * each still resolving only once committed.
 */

export interface SqliteStoreOptions {
  /** Database file, created with its directory when missing. Not the queue's file: each keeps
   * its own schema version in `user_version`. */
  file: string;
  /** `normal` survives a crash of the process; `full` also survives power loss, at the cost of
   * an fsync per write. */
  synchronous?: 'normal' | 'full';
}

/** How long one slice of a history read may hold the process (see `history`). */
const HISTORY_SLICE_MS = 20;
/** The shortest slice, so that a window's worth of them stays few. */
const MIN_SLICE_MS = 1_000;

/** Bumped with every schema change; a newer file is refused rather than misread. */
const SCHEMA_VERSION = 4;

/** Read once, at module load, from beside this file: the schema as it is now, and the steps
 * that take an older file to it (`migrations/sqlite/NNN-name.sql`, from version 2). */
const SCHEMA = readFileSync(new URL('./sqlite-schema.sql', import.meta.url), 'utf8');
const MIGRATIONS = loadMigrations(new URL('./migrations/sqlite/', import.meta.url), 2);

interface SessionRow {
  request_id: string;
  station_id: string;
  token_hash: string;
  callback_url: string;
  accepted_at: number;
  idempotency_key: string | null;
  request_hash: string | null;
  decision: Decision | 'pending';
  reason: string | null;
  auth_latency_ms: number | null;
  decided_at: number | null;
  decision_source: DecisionSource | null;
  authorization_reference: string | null;
  allowed_evses: string | null;
  display_text: string | null;
  callback_state: CallbackState;
  callback_attempts: number;
  last_attempt_at: number | null;
  delivered_at: number | null;
  next_attempt_at: number | null;
  client_id: string | null;
  accept_ms: number | null;
}

type AttemptRow = {
  attempt: number;
  started_at: number;
  duration_ms: number;
  status_code: number | null;
  error: string | null;
  response_snippet: string | null;
};

type DecideRow = Pick<
  SessionRow,
  | 'request_id'
  | 'decision'
  | 'reason'
  | 'auth_latency_ms'
  | 'decided_at'
  | 'decision_source'
  | 'authorization_reference'
  | 'allowed_evses'
  | 'display_text'
>;

type StateParams = { request_id: string; state: CallbackState; at: number; next: number | null };

function openDatabase(file: string, synchronous: Synchronous): Database.Database {
  return openSqlite({
    file,
    synchronous,
    schema: SCHEMA,
    schemaVersion: SCHEMA_VERSION,
    migrations: MIGRATIONS,
    kind: 'store',
    foreignKeys: true,
  });
}

type NewSessionRow = Pick<
  SessionRow,
  'request_id' | 'station_id' | 'token_hash' | 'callback_url' | 'accepted_at'
> &
  Pick<SessionRow, 'idempotency_key' | 'request_hash' | 'client_id' | 'accept_ms'>;

/** Moves the callback; shared by both state writes so they cannot drift apart. */
const MOVE_CALLBACK = `callback_state = @state, next_attempt_at = @next,
  delivered_at = CASE WHEN @state = 'delivered' THEN @at ELSE delivered_at END`;

function prepareStatements(db: Database.Database) {
  return {
    insert: db.prepare<NewSessionRow>(
      `INSERT INTO sessions (request_id, station_id, token_hash, callback_url, accepted_at,
         idempotency_key, request_hash, client_id, accept_ms)
       VALUES (@request_id, @station_id, @token_hash, @callback_url, @accepted_at,
         @idempotency_key, @request_hash, @client_id, @accept_ms)
       ON CONFLICT (idempotency_key) DO NOTHING`,
    ),
    byKey: db.prepare<[string], Pick<SessionRow, 'request_id' | 'request_hash'>>(
      'SELECT request_id, request_hash FROM sessions WHERE idempotency_key = ?',
    ),
    get: db.prepare<[string], SessionRow>('SELECT * FROM sessions WHERE request_id = ?'),
    attempts: db.prepare<[string], AttemptRow>(
      `SELECT attempt, started_at, duration_ms, status_code, error, response_snippet
       FROM callback_attempts WHERE request_id = ? ORDER BY started_at, id`,
    ),
    decide: db.prepare<DecideRow>(
      `UPDATE sessions SET decision = @decision, reason = @reason,
         auth_latency_ms = @auth_latency_ms, decided_at = @decided_at,
         decision_source = @decision_source, authorization_reference = @authorization_reference,
         allowed_evses = @allowed_evses, display_text = @display_text
       WHERE request_id = @request_id AND decision = 'pending'`,
    ),
    setState: db.prepare<StateParams>(
      `UPDATE sessions SET ${MOVE_CALLBACK} WHERE request_id = @request_id AND ${CALLBACK_NOT_TERMINAL}`,
    ),
    // MAX: a late duplicate attempt must not move "last attempt" back in time.
    countAttempt: db.prepare<StateParams & { started_at: number }>(
      `UPDATE sessions SET ${MOVE_CALLBACK}, callback_attempts = callback_attempts + 1,
         last_attempt_at = MAX(COALESCE(last_attempt_at, @started_at), @started_at)
       WHERE request_id = @request_id AND ${CALLBACK_NOT_TERMINAL}`,
    ),
    addAttempt: db.prepare<AttemptRow & { request_id: string }>(
      `INSERT INTO callback_attempts (request_id, attempt, started_at, duration_ms, status_code,
         error, response_snippet)
       VALUES (@request_id, @attempt, @started_at, @duration_ms, @status_code, @error,
         @response_snippet)`,
    ),
    // The id bound lets the primary key find old sessions (ids are time-ordered); the state
    // and time checks decide. Attempts go with their session (ON DELETE CASCADE).
    purge: db.prepare<{ floor: string; before: number; limit: number }>(
      `DELETE FROM sessions WHERE request_id IN (
         SELECT request_id FROM sessions
         WHERE request_id < @floor AND ${FINISHED}
           AND COALESCE(last_attempt_at, accepted_at) < @before
         ORDER BY request_id LIMIT @limit)`,
    ),
    ping: db.prepare('SELECT 1'),
  };
}

type Statements = ReturnType<typeof prepareStatements>;

/**
 * The writes of several statements, each a transaction function (a savepoint inside the group
 * commit's IMMEDIATE transaction), so that it fails whole.
 */
function prepareTransactions(db: Database.Database, sql: Statements) {
  return {
    // The attempt is written only when the state moved, so a late duplicate leaves no trace.
    attempt: db.transaction((state: StateParams, attempt: CallbackAttempt) => {
      if (sql.countAttempt.run({ ...state, started_at: attempt.startedAt }).changes === 0) return;
      sql.addAttempt.run({
        request_id: state.request_id,
        attempt: attempt.attempt,
        started_at: attempt.startedAt,
        duration_ms: Math.round(attempt.durationMs),
        status_code: attempt.statusCode,
        error: attempt.error,
        response_snippet: attempt.responseSnippet,
      });
    }),
  };
}

function toRecord(row: SessionRow): SessionRecord {
  return {
    requestId: row.request_id,
    stationId: row.station_id,
    tokenHash: row.token_hash,
    callbackUrl: row.callback_url,
    acceptedAt: row.accepted_at,
    acceptMs: row.accept_ms,
    idempotencyKey: row.idempotency_key,
    clientId: row.client_id,
    decision: row.decision,
    reason: row.reason,
    authLatencyMs: row.auth_latency_ms,
    decidedAt: row.decided_at,
    decisionSource: row.decision_source,
    details: {
      authorizationReference: row.authorization_reference,
      allowedEvses: parseJson<string[]>(row.allowed_evses),
      displayText: parseJson<DisplayText>(row.display_text),
    },
    callback: {
      state: row.callback_state,
      attempts: row.callback_attempts,
      lastAttemptAt: row.last_attempt_at,
      deliveredAt: row.delivered_at,
      nextAttemptAt: row.next_attempt_at,
    },
  };
}

/** The JSON columns are written by `recordDecision` only; null stays null. */
function parseJson<T>(text: string | null): T | null {
  return text === null ? null : (JSON.parse(text) as T);
}

function toAttempt(row: AttemptRow): CallbackAttempt {
  return {
    attempt: row.attempt,
    startedAt: row.started_at,
    durationMs: row.duration_ms,
    statusCode: row.status_code,
    error: row.error,
    responseSnippet: row.response_snippet,
  };
}

function stateParams(requestId: string, update: CallbackStateUpdate): StateParams {
  const next = update.nextAttemptAt ?? null;
  return { request_id: requestId, state: update.state, at: update.at, next };
}

class SqliteStore implements DecisionStore {
  readonly #db: Database.Database;
  readonly #sql: Statements;
  readonly #tx: ReturnType<typeof prepareTransactions>;
  readonly #group: GroupCommit;
  #closed = false;

  constructor(options: SqliteStoreOptions) {
    this.#db = openDatabase(options.file, options.synchronous ?? 'normal');
    this.#sql = prepareStatements(this.#db);
    this.#tx = prepareTransactions(this.#db, this.#sql);
    this.#group = new GroupCommit(this.#db, { lockTimeoutMs: BUSY_TIMEOUT_MS });
  }

  createSession(session: NewSession) {
    const row: NewSessionRow = {
      request_id: session.requestId,
      station_id: session.stationId,
      token_hash: session.tokenHash,
      callback_url: session.callbackUrl,
      accepted_at: session.acceptedAt,
      idempotency_key: session.idempotencyKey ?? null,
      request_hash: session.requestHash ?? null,
      client_id: session.clientId ?? null,
      accept_ms: null,
    };
    // One write, atomic by itself, then a read: no savepoint needed. The only conflict ignored
    // is the key's, and the group commit's write lock makes its winner visible here.
    const { acceptBy } = session;
    return this.#group.run((): CreateSessionResult => {
      // Checked inside the write, as late as it can be: the commit follows within the turn.
      const writtenAt = Date.now();
      if (acceptBy !== undefined && writtenAt > acceptBy) throw tooLate(session.requestId);
      if (session.startedAt !== undefined)
        row.accept_ms = Math.round(writtenAt - session.startedAt);
      if (this.#sql.insert.run(row).changes === 1) return { created: true };
      const key = row.idempotency_key;
      const winner = key === null ? undefined : this.#sql.byKey.get(key);
      if (!winner) throw new Error(`Session ${row.request_id} was neither stored nor found`);
      return {
        created: false,
        existing: { requestId: winner.request_id, requestHash: winner.request_hash },
      };
    });
  }

  findByIdempotencyKey(key: string) {
    return settle(() => {
      const row = this.#sql.byKey.get(key);
      return row ? { requestId: row.request_id, requestHash: row.request_hash } : null;
    });
  }

  getSession(requestId: string) {
    return settle(() => {
      const row = this.#sql.get.get(requestId);
      return row ? toRecord(row) : null;
    });
  }

  listCallbackAttempts(requestId: string) {
    return settle(() => this.#sql.attempts.all(requestId).map(toAttempt));
  }

  recordDecision(requestId: string, input: DecisionInput) {
    const details = input.details ?? NO_DETAILS;
    const row: DecideRow = {
      request_id: requestId,
      decision: input.decision,
      reason: input.reason,
      auth_latency_ms: input.authLatencyMs === null ? null : Math.round(input.authLatencyMs),
      decided_at: input.decidedAt,
      decision_source: input.source ?? 'service',
      authorization_reference: details.authorizationReference,
      allowed_evses: details.allowedEvses === null ? null : JSON.stringify(details.allowedEvses),
      display_text: details.displayText === null ? null : JSON.stringify(details.displayText),
    };
    return this.#group.run(() => this.#sql.decide.run(row).changes === 1);
  }

  recordCallbackAttempt(requestId: string, attempt: CallbackAttempt, update: CallbackStateUpdate) {
    const state = stateParams(requestId, update);
    return this.#group.run(() => this.#tx.attempt(state, attempt));
  }

  async setCallbackState(requestId: string, update: CallbackStateUpdate) {
    const state = stateParams(requestId, update);
    await this.#group.run(() => this.#sql.setState.run(state));
  }

  purgeFinishedSessions(before: number, limit: number) {
    return this.#group.run(
      () => this.#sql.purge.run({ floor: uuidv7Floor(before), before, limit }).changes,
    );
  }

  /**
   * Reads the window slice by slice, yielding to the event loop between slices: SQLite reads
   * block the process, and a day's history at a million sessions takes seconds to read. Each
   * slice's span adapts to take about `HISTORY_SLICE_MS`; a bucket cut across two slices is
   * summed from both (the rows are counts). Slices are read at different moments, so a write
   * landing meanwhile may be counted in one and not another.
   */
  async history(query: HistoryQuery) {
    checkHistoryQuery(query);
    const tables = { sessions: 'sessions', attempts: 'callback_attempts' };
    const all = <R>(text: string) => this.#db.prepare<[], R>(text).all();
    const first = historyStatements(tables, query);
    const rows: HistoryRows = {
      accepted: [],
      decided: [],
      delivered: [],
      retried: [],
      deadLettered: await settle(() => all(first.deadLettered)),
      backlogAtTo: 0,
    };
    let span = query.bucketMs;
    for (let from = query.from; from < query.to;) {
      const to = Math.min(query.to, from + span);
      const started = performance.now();
      await settle(() => {
        const sql = historyStatements(tables, query, { from, to });
        rows.accepted.push(...all<HistoryRows['accepted'][number]>(sql.accepted));
        rows.decided.push(...all<HistoryRows['decided'][number]>(sql.decided));
        rows.delivered.push(...all<HistoryRows['delivered'][number]>(sql.delivered));
        rows.retried.push(...all<HistoryRows['retried'][number]>(sql.retried));
      });
      const took = performance.now() - started;
      if (took < HISTORY_SLICE_MS / 2) span *= 2;
      else if (took > HISTORY_SLICE_MS) span = Math.max(MIN_SLICE_MS, Math.floor(span / 2));
      from = to;
      await new Promise((resolve) => setImmediate(resolve));
    }
    // Last, as the slices go oldest first: the backlog carried back then matches the newest.
    rows.backlogAtTo = await settle(
      () => this.#db.prepare<[], { n: number }>(first.backlogAtTo).get()?.n ?? 0,
    );
    return assembleHistory(query, rows);
  }

  ping() {
    return settle(() => {
      if (this.#closed) throw new Error('The SQLite store is closed');
      this.#sql.ping.get();
    });
  }

  close() {
    return settle(() => {
      if (this.#closed) return;
      this.#closed = true;
      this.#group.close();
      this.#db.close();
    });
  }
}

export function createSqliteStore(options: SqliteStoreOptions): DecisionStore {
  return new SqliteStore(options);
}
